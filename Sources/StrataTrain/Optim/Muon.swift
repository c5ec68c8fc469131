import StrataCore
import StrataKernels
import StrataNN

/// Muon (Jordan et al. 2024, "Muon: MomentUm Orthogonalized by Newton–Schulz"; catalog id `muon`): for
/// each hidden 2-D weight, momentum M ← μ·M + G, then the update O = NewtonSchulz₅(M/‖M‖_F) (all singular
/// values pushed towards 1), W ← W·(1 − η·λ) − η·s·O. Embeddings, the output head and every vector or
/// scalar parameter use AdamW instead.
public final class Muon: Optimizer {
    /// How the orthogonalized update is scaled for a [rows, cols] = [out, in] weight.
    public enum Scale: Sendable, Equatable {
        /// s = √max(1, rows/cols), as in Jordan et al.'s reference implementation.
        case spectral
        /// s = factor·√max(rows, cols) (Liu et al. 2025, "Muon is Scalable for LLM Training", factor 0.2):
        /// matches AdamW's update RMS so AdamW's learning rate and decay carry over.
        case matchAdamW(factor: Float)

        func value(rows: Int, cols: Int) -> Float {
            switch self {
            case .spectral: return Float(max(1, Double(rows) / Double(cols))).squareRoot()
            case .matchAdamW(let factor): return factor * Float(max(rows, cols)).squareRoot()
            }
        }
    }

    /// Hyper-parameters of the Muon group, and the options of the AdamW group.
    public struct Options: Sendable {
        public var learningRate: Float
        /// μ.
        public var momentum: Float
        /// Orthogonalize G + μ·M instead of M (the reference code's default; the catalog's formula is M).
        public var nesterov: Bool
        /// Decoupled decay λ on Muon-updated matrices.
        public var weightDecay: Float
        public var scale: Scale
        /// Newton–Schulz iterations.
        public var iterations: Int
        /// Options of the AdamW group; its learning rate follows `learningRate` proportionally.
        public var adamW: AdamW.Options
        /// Parameters whose dotted path has one of these components use AdamW (the output head).
        public var excludedNames: Set<String>

        /// Defaults from the reference implementation (lr 0.02, μ 0.95, 5 iterations).
        public init(learningRate: Float = 0.02, momentum: Float = 0.95, nesterov: Bool = false, weightDecay: Float = 0,
                    scale: Scale = .spectral, iterations: Int = 5,
                    adamW: AdamW.Options = AdamW.Options(learningRate: 3e-4, beta1: 0.9, beta2: 0.95, weightDecay: 0),
                    excludedNames: Set<String> = ["head", "lm_head", "output"]) {
            self.learningRate = learningRate; self.momentum = momentum; self.nesterov = nesterov
            self.weightDecay = weightDecay; self.scale = scale; self.iterations = iterations
            self.adamW = adamW; self.excludedNames = excludedNames
        }
    }

    /// Quintic Newton–Schulz coefficients (a, b, c) from the catalog / reference: they maximise the slope
    /// at 0 while keeping the iteration's fixed band around 1, so singular values land in about [0.7, 1.2].
    public static let coefficients: (a: Float, b: Float, c: Float) = (3.4445, -4.7750, 2.0315)

    /// Current hyper-parameters (the AdamW group's learning rate lives in `adamW`).
    public private(set) var options: Options
    /// All parameters in the order given (state keys use this index).
    public let parameters: [Parameter]
    /// Indices into `parameters` updated by Muon.
    public let matrixIndices: [Int]
    /// The AdamW group (everything else).
    public let adamW: AdamW
    /// Updates taken so far.
    public private(set) var step = 0
    private var momenta: [Tensor]  // one per matrixIndices entry
    private let adamRatio: Float

    /// Muon for 2-D `.weight` parameters whose path has no `excludedNames` component, AdamW for the rest.
    public init(namedParameters: [(String, Parameter)], options: Options = Options()) {
        self.parameters = namedParameters.map(\.1)
        self.options = options
        var matrices: [Int] = [], others: [Parameter] = []
        for (i, (name, p)) in namedParameters.enumerated() {
            let excluded = name.split(separator: ".").contains { options.excludedNames.contains(String($0)) }
            if p.role == .weight && p.shape.count == 2 && !excluded { matrices.append(i) } else { others.append(p) }
        }
        matrixIndices = matrices
        momenta = matrices.map { Tensor.zeros(namedParameters[$0].1.shape) }
        adamW = AdamW(parameters: others, options: options.adamW)
        adamRatio = options.learningRate == 0 ? 1 : options.adamW.learningRate / options.learningRate
    }

    /// Muon group's learning rate; setting it scales the AdamW group's by the same factor.
    public var learningRate: Float {
        get { options.learningRate }
        set { options.learningRate = newValue; adamW.learningRate = newValue * adamRatio }
    }

    /// One step: Muon on the matrices, AdamW on the rest; clears the gradients.
    public func update() {
        step += 1
        for (k, i) in matrixIndices.enumerated() {
            let p = parameters[i]
            guard let g = p.grad else { continue }
            let mu = options.momentum
            let count = p.value.count
            momenta[k].withUnsafeMutablePointer { m in
                g.withUnsafePointer { grad in
                    parallelFor(count, grain: optimizerGrain) { r in for j in r { m[j] = mu * m[j] + grad[j] } }
                }
            }
            let direction = options.nesterov ? withNoGrad { g + momenta[k] * mu } : momenta[k]
            let o = Self.orthogonalize(direction, iterations: options.iterations)
            let step = options.learningRate * options.scale.value(rows: p.shape[0], cols: p.shape[1])
            let keep = 1 - options.learningRate * options.weightDecay
            p.value.withUnsafeMutablePointer { w in
                o.withUnsafePointer { u in
                    parallelFor(count, grain: optimizerGrain) { r in for j in r { w[j] = w[j] * keep - step * u[j] } }
                }
            }
            p.zeroGrad()
        }
        adamW.update()
    }

    /// NewtonSchulz₅ of a [rows, cols] matrix: X ← X/‖X‖_F, then X ← aX + (bA + cA²)X with A = XXᵀ,
    /// on the wide orientation (A is min(rows, cols)² — cheaper, same result transposed).
    public static func orthogonalize(_ matrix: Tensor, iterations: Int = 5) -> Tensor {
        guard matrix.rank == 2 else { shapeError("Muon.orthogonalize", "needs a 2-D matrix, got shape \(matrix.shape)") }
        return withNoGrad {
            let tall = matrix.shape[0] > matrix.shape[1]
            var x = tall ? matrix.transposed(0, 1) : matrix
            let norm = x.withUnsafePointer { p in
                var s = 0.0
                for i in 0..<x.count { s += Double(p[i]) * Double(p[i]) }
                return Float(s.squareRoot())
            }
            x = x / (norm + 1e-7)
            let (a, b, c) = coefficients
            for _ in 0..<iterations {
                let gram = x.matmul(x, transposeB: true)
                let poly = gram * b + gram.matmul(gram) * c
                x = x * a + poly.matmul(x)
            }
            return tall ? x.transposed(0, 1) : x
        }
    }

    /// `step`, `momentum.i` per Muon-updated parameter index i, and the AdamW group's state under `adamw.`.
    public func state() -> [(String, Tensor)] {
        var out: [(String, Tensor)] = [("step", Tensor(scalar: Float(step)))]
        for (k, i) in matrixIndices.enumerated() { out.append(("momentum.\(i)", momenta[k].copy())) }
        for (key, t) in adamW.state() { out.append(("adamw.\(key)", t)) }
        return out
    }

    /// Restores `state()` output.
    public func loadState(_ state: [String: Tensor]) throws {
        var expected: [String: [Int]] = ["step": []]
        for i in matrixIndices { expected["momentum.\(i)"] = parameters[i].shape }
        var own: [String: Tensor] = [:], adam: [String: Tensor] = [:]
        for (key, t) in state {
            if key.hasPrefix("adamw.") { adam[String(key.dropFirst(6))] = t } else { own[key] = t }
        }
        var problems: [String] = []
        do { try checkOptimizerState(own, expected: expected, optimizer: "Muon") } catch let e as OptimizerStateError {
            problems += e.problems
        }
        do { try adamW.loadState(adam) } catch let e as StateDictError {
            // Report the AdamW group's keys as they appear in `state()`.
            problems += e.missing.map { "missing key adamw.\($0)" } + e.unexpected.map { "unexpected key adamw.\($0)" }
                + e.shapeMismatches.map { "adamw.\($0.0): expected shape \($0.1), found \($0.2)" }
        }
        if !problems.isEmpty { throw OptimizerStateError(optimizer: "Muon", problems: problems) }
        step = Int(own["step"]!.scalars[0])
        momenta = matrixIndices.map { own["momentum.\($0)"]!.copy() }
    }
}
