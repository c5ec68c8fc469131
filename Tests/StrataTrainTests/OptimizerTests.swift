import StrataCore
import StrataNN
import XCTest
import StrataTrain

/// A small least-squares problem: find W [4, 8] and b [4] with X Wᵀ + b = Y.
struct LeastSquares {
    let x: Tensor, y: Tensor
    let named: [(String, Parameter)]
    var parameters: [Parameter] { named.map(\.1) }

    init(seed: UInt64) {
        var rng = RNG(seed: seed)
        x = rng.normal([32, 8])
        let wTrue = rng.normal([4, 8], std: 0.5)
        y = x.matmul(wTrue, transposeB: true) + 0.3
        named = [("layer.weight", Parameter(rng.normal([4, 8], std: 0.1), role: .weight)),
                 ("layer.bias", Parameter(Tensor.zeros([4]), role: .bias))]
    }

    /// Mean squared error; with `backward` it also accumulates gradients.
    func loss(backward: Bool = true) -> Float {
        let w = named[0].1.value, b = named[1].1.value
        let diff = x.matmul(w, transposeB: true) + b - y
        let l = (diff * diff).mean()
        if backward { l.backward() }
        return l.item
    }
}

final class OptimizerTests: XCTestCase {
    func train(_ problem: LeastSquares, _ optimizer: Optimizer, steps: Int) -> (first: Float, last: Float) {
        let first = problem.loss(backward: false)
        for _ in 0..<steps { _ = problem.loss(); optimizer.update() }
        return (first, problem.loss(backward: false))
    }

    func testLionReducesLeastSquaresLoss() {
        let problem = LeastSquares(seed: 1)
        let lion = Lion(parameters: problem.parameters, options: .init(learningRate: 0.01, weightDecay: 0))
        let (first, last) = train(problem, lion, steps: 300)
        XCTAssertLessThan(last, 0.02 * first, "Lion: \(first) → \(last)")
        XCTAssertEqual(lion.step, 300)
        XCTAssertNil(problem.parameters[0].grad, "update clears gradients")
    }

    func testLionStepMovesEveryCoordinateByLearningRate() {
        let p = Parameter(Tensor([1, -2, 3], shape: [3]), role: .bias)
        (p.value * Tensor([1, -1, 0], shape: [3])).sum().backward()
        let lion = Lion(parameters: [p], options: .init(learningRate: 0.5))
        lion.update()
        // sign(0.1·g) with m = 0: +1, −1, 0 (no decay on biases).
        XCTAssertEqual(p.value.scalars, [0.5, -1.5, 3])
    }

    func testMuonReducesLeastSquaresLoss() {
        let problem = LeastSquares(seed: 2)
        let muon = Muon(namedParameters: problem.named,
                        options: .init(learningRate: 0.02, adamW: .init(learningRate: 0.02, weightDecay: 0)))
        XCTAssertEqual(muon.matrixIndices, [0], "only the 2-D weight is orthogonalized; the bias uses AdamW")
        let (first, last) = train(problem, muon, steps: 300)
        XCTAssertLessThan(last, 0.02 * first, "Muon: \(first) → \(last)")
    }

    func testMuonExcludesEmbeddingsAndHead() {
        var rng = RNG(seed: 3)
        let named: [(String, Parameter)] = [
            ("embed.weight", Parameter(rng.normal([10, 4]), role: .embedding)),
            ("blocks.0.mlp.up.weight", Parameter(rng.normal([8, 4]), role: .weight)),
            ("blocks.0.norm.weight", Parameter(Tensor.ones([4]), role: .norm)),
            ("head.weight", Parameter(rng.normal([10, 4]), role: .weight)),
        ]
        let muon = Muon(namedParameters: named)
        XCTAssertEqual(muon.matrixIndices, [1])
        XCTAssertEqual(muon.adamW.parameters.count, 3)
        muon.learningRate = 0.01
        XCTAssertEqual(muon.adamW.learningRate, 0.01 * 3e-4 / 0.02, accuracy: 1e-9)
    }

    /// Largest eigenvalue of a symmetric positive semi-definite matrix by power iteration.
    func largestEigenvalue(_ a: Tensor, iterations: Int = 300) -> Float {
        var v = Tensor.ones([a.shape[0], 1])
        var lambda: Float = 0
        for _ in 0..<iterations {
            let w = a.matmul(v)
            lambda = (w * v).sum().item / (v * v).sum().item
            v = w / (w * w).sum().item.squareRoot()
        }
        return lambda
    }

    func testNewtonSchulzPushesSingularValuesTowardOne() {
        var rng = RNG(seed: 4)
        for shape in [[24, 64], [64, 24]] {
            let m = rng.normal(shape, std: 3)
            let o = Muon.orthogonalize(m)
            XCTAssertEqual(o.shape, shape)
            // Singular values of O are the square roots of the eigenvalues of the small Gram matrix.
            let gram = shape[0] < shape[1] ? o.matmul(o, transposeB: true) : o.matmul(o, transposeA: true)
            let k = min(shape[0], shape[1])
            let sMax = largestEigenvalue(gram).squareRoot()
            // Smallest: λmax(2·I − G) = 2 − λmin(G).
            var twoI = [Float](repeating: 0, count: k * k)
            for i in 0..<k { twoI[i * k + i] = 2 }
            let sMin = (2 - largestEigenvalue(Tensor(twoI, shape: [k, k]) - gram)).squareRoot()
            XCTAssertLessThan(sMax, 1.25, "shape \(shape)")
            XCTAssertGreaterThan(sMin, 0.6, "shape \(shape)")
            // The input's spread of singular values was wide; O's Frobenius² ≈ k.
            let fro2 = (o * o).sum().item
            XCTAssertEqual(fro2 / Float(k), 1, accuracy: 0.35)
        }
    }

    func checkResumeIsBitIdentical(_ make: ([(String, Parameter)]) -> Optimizer, line: UInt = #line) throws {
        let a = LeastSquares(seed: 5), b = LeastSquares(seed: 5)
        let optA = make(a.named)
        for _ in 0..<3 { _ = a.loss(); optA.update() }
        let state = optA.state()
        for (pb, pa) in zip(b.parameters, a.parameters) { pb.assign(pa.value) }
        for _ in 0..<4 { _ = a.loss(); optA.update() }

        let optB = make(b.named)
        optB.learningRate = optA.learningRate
        try optB.loadState(Dictionary(uniqueKeysWithValues: state))
        XCTAssertEqual(optB.step, 3, line: line)
        for _ in 0..<4 { _ = b.loss(); optB.update() }
        for (pa, pb) in zip(a.parameters, b.parameters) {
            XCTAssertEqual(pa.value.scalars, pb.value.scalars, "resumed run diverged", line: line)
        }
        XCTAssertEqual(optA.state().map(\.0), optB.state().map(\.0), line: line)

        var broken = Dictionary(uniqueKeysWithValues: state)
        let removed = broken.keys.sorted().last!
        broken[removed] = nil
        broken["bogus"] = Tensor.zeros([1])
        XCTAssertThrowsError(try make(b.named).loadState(broken), line: line) { error in
            XCTAssertTrue("\(error)".contains(removed) && "\(error)".contains("bogus"), "\(error)", line: line)
        }
        var misshapen = Dictionary(uniqueKeysWithValues: state)
        let victim = state[1].0
        misshapen[victim] = Tensor.zeros([3, 3])
        XCTAssertThrowsError(try make(b.named).loadState(misshapen), line: line) { error in
            XCTAssertTrue("\(error)".contains("\(victim): expected shape"), "\(error)", line: line)
        }
    }

    func testOptimizerStateResumesBitIdentically() throws {
        try checkResumeIsBitIdentical { AdamW(parameters: $0.map(\.1), options: .init(learningRate: 0.01)) }
        try checkResumeIsBitIdentical { Lion(parameters: $0.map(\.1), options: .init(learningRate: 0.01)) }
        try checkResumeIsBitIdentical { Muon(namedParameters: $0, options: .init(nesterov: true, weightDecay: 0.01)) }
    }

    func testClippingScalesGlobalNormToMax() {
        let p = Parameter(Tensor.zeros([2]), role: .weight), q = Parameter(Tensor.zeros([1]), role: .bias)
        (p.value * Tensor([3, 0], shape: [2])).sum().backward()
        (q.value * 4).sum().backward()
        let norm = clipGradientNorm([p, q], maxNorm: 1)
        XCTAssertEqual(norm, 5, accuracy: 1e-6)
        XCTAssertEqual(p.grad!.scalars[0], 0.6, accuracy: 1e-6)
        XCTAssertEqual(q.grad!.scalars[0], 0.8, accuracy: 1e-6)
        // Under the limit nothing changes.
        XCTAssertEqual(clipGradientNorm([p, q], maxNorm: 10), 1, accuracy: 1e-6)
        XCTAssertEqual(p.grad!.scalars[0], 0.6, accuracy: 1e-6)
    }

    func testClippingScalesSharedGradientBuffersOnce() {
        // d(sum(a + b))/da and /db may be one tensor handed to both leaves; scaling must happen once.
        let a = Parameter(Tensor.zeros([4]), role: .weight), b = Parameter(Tensor.zeros([4]), role: .weight)
        ((a.value + b.value) * 3).sum().backward()
        XCTAssertEqual(clipGradientNorm([a, b], maxNorm: 2), (8 * 9 as Float).squareRoot(), accuracy: 1e-5)
        let after = (a.grad!.scalars + b.grad!.scalars).map { $0 * $0 }.reduce(0, +).squareRoot()
        XCTAssertEqual(after, 2, accuracy: 1e-5)
    }

    // MARK: SGD

    func testSGDStepMatchesHandComputedUpdate() {
        // p = [1, -2, 3], L = Σ p ⊙ [1, -1, 0.5] → g = [1, -1, 0.5]; lr 0.1: p − 0.1·g.
        let p = Parameter(Tensor([1, -2, 3], shape: [3]), role: .weight)
        let sgd = SGD(parameters: [p], options: .init(learningRate: 0.1))
        (p.value * Tensor([1, -1, 0.5], shape: [3])).sum().backward()
        sgd.update()
        for (got, want) in zip(p.value.scalars, [0.9, -1.9, 2.95] as [Float]) { XCTAssertEqual(got, want, accuracy: 1e-6) }
        XCTAssertNil(p.grad, "update clears gradients")
        XCTAssertEqual(sgd.state().map(\.0), ["step"], "plain SGD keeps no buffers")
    }

    func testSGDMomentumAndDecayMatchHandComputedUpdates() {
        // Constant gradient g = 2 on p₀ = 1 with μ = 0.5, λ = 0.1, lr 0.1:
        // m₁ = 2, p₁ = 1 − 0.1·(2 + 0.1·1) = 0.79; m₂ = 0.5·2 + 2 = 3, p₂ = 0.79 − 0.1·(3 + 0.079) = 0.4821.
        let p = Parameter(Tensor([1], shape: [1]), role: .weight)
        let bias = Parameter(Tensor([1], shape: [1]), role: .bias)
        let sgd = SGD(parameters: [p, bias], options: .init(learningRate: 0.1, momentum: 0.5, weightDecay: 0.1))
        for _ in 0..<2 {
            (p.value * 2 + bias.value * 2).sum().backward()
            sgd.update()
        }
        XCTAssertEqual(p.value.scalars[0], 0.4821, accuracy: 1e-6)
        // Biases are not decayed by default: 1 − 0.1·2 − 0.1·3.
        XCTAssertEqual(bias.value.scalars[0], 0.5, accuracy: 1e-6)
        XCTAssertEqual(sgd.step, 2)
    }

    func testSGDReducesLeastSquaresLossAndResumesBitIdentically() throws {
        let problem = LeastSquares(seed: 4)
        let (first, last) = train(problem, SGD(parameters: problem.parameters, options: .init(learningRate: 0.05, momentum: 0.9)),
                                  steps: 300)
        XCTAssertLessThan(last, 0.02 * first, "SGD: \(first) → \(last)")
        try checkResumeIsBitIdentical { SGD(parameters: $0.map(\.1), options: .init(learningRate: 0.01, momentum: 0.9)) }
        // Plain SGD's state is its step count alone (the shared helper needs a second key to corrupt).
        let plain = SGD(parameters: problem.parameters, options: .init(learningRate: 0.01))
        try plain.loadState(["step": Tensor(scalar: 7)])
        XCTAssertEqual(plain.step, 7)
        XCTAssertThrowsError(try plain.loadState(["step": Tensor(scalar: 1), "momentum.0": Tensor.zeros([4, 8])]))
    }
}
