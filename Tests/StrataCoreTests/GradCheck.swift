import StrataCore
import XCTest

/// The one finite-difference harness every differentiable op goes through.
///
/// The scalar checked is L = Σ f(x) ∘ R for a fixed random R (so every output element matters), evaluated
/// in Double outside autograd. Each input coordinate (or a seeded sample of at most `maxProbes` of them)
/// is perturbed by ±eps and the central difference compared with the analytic gradient from
/// `backward(R)`.
struct GradCheck {
    var eps: Float = 3e-3
    var tolerance: Float = 6e-3
    var maxProbes = 24

    func check(_ name: String, _ inputs: [Tensor], seed: UInt64 = 7,
               file: StaticString = #filePath, line: UInt = #line,
               _ f: ([Tensor]) -> Tensor) {
        var rng = RNG(seed: seed)
        let leaves = inputs.map { $0.requiringGrad() }
        let out = f(leaves)
        let r = rng.normal(out.shape)
        out.backward(r)
        for (which, input) in inputs.enumerated() {
            guard let analytic = leaves[which].grad else {
                XCTFail("\(name): input \(which) received no gradient", file: file, line: line)
                continue
            }
            XCTAssertEqual(analytic.shape, input.shape, "\(name): gradient shape", file: file, line: line)
            let probes = input.count <= maxProbes
                ? Array(0..<input.count)
                : (0..<maxProbes).map { _ in Int(rng.next() % UInt64(input.count)) }
            let ga = analytic.scalars
            for i in probes {
                let numeric = centralDifference(inputs, which, i, r, f)
                let err = abs(numeric - ga[i]) / max(1, abs(numeric), abs(ga[i]))
                if !(err <= tolerance) {
                    XCTFail("\(name): d/dx\(which)[\(i)] analytic \(ga[i]) vs numeric \(numeric) (shape \(input.shape))",
                            file: file, line: line)
                    break
                }
            }
        }
    }

    private func centralDifference(_ inputs: [Tensor], _ which: Int, _ i: Int, _ r: Tensor,
                                   _ f: ([Tensor]) -> Tensor) -> Float {
        func value(_ delta: Float) -> Double {
            var moved = inputs
            var values = inputs[which].scalars
            values[i] += delta
            moved[which] = Tensor(values, shape: inputs[which].shape)
            let y = withNoGrad { f(moved) }.scalars, w = r.scalars
            var s = 0.0
            for j in 0..<y.count { s += Double(y[j]) * Double(w[j]) }
            return s
        }
        return Float((value(eps) - value(-eps)) / Double(2 * eps))
    }
}

/// Random tensor helpers for tests.
extension RNG {
    /// Normal values pushed at least `margin` away from zero (for ops with a kink at 0).
    mutating func awayFromZero(_ shape: [Int], margin: Float = 0.05) -> Tensor {
        normal(shape).map { $0 >= 0 ? $0 + margin : $0 - margin }
    }
    /// Values in [low, high) (positive domains for log, sqrt, pow).
    mutating func positive(_ shape: [Int], low: Float = 0.5, high: Float = 2) -> Tensor {
        uniform(shape, low: low, high: high)
    }
}
