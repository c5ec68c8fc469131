import CStrataKernels
import Foundation

/// One fused AdamW step over a flat parameter buffer (split over contiguous element chunks).
public enum AdamWKernel {
    /// Decoupled weight decay (Loshchilov & Hutter): p -= lr·wd·p; m = β1 m + (1−β1) g; v = β2 v + (1−β2) g²;
    /// p -= lr · (m / (1−β1^step)) / (sqrt(v / (1−β2^step)) + eps). step starts at 1.
    public static func update(param: UnsafeMutablePointer<Float>, grad: UnsafePointer<Float>,
                              m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int, lr: Float,
                              beta1: Float, beta2: Float, eps: Float, weightDecay: Float, step: Int) {
        precondition(count >= 0, "AdamWKernel.update: count must be ≥ 0, got \(count)")
        precondition(step >= 1, "AdamWKernel.update: step starts at 1, got \(step)")
        precondition(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1,
                     "AdamWKernel.update: betas must be in [0, 1), got beta1 \(beta1), beta2 \(beta2)")
        // Bias corrections in Double: β^step for large steps is tiny and 1 − β^step is then exact enough.
        let invBC1 = Float(1 / (1 - pow(Double(beta1), Double(step))))
        let invBC2 = Float(1 / (1 - pow(Double(beta2), Double(step))))
        let isa = VecMath.cISA, lrWD = lr * weightDecay
        parallelFor(count, grain: VecMath.elementGrain) { r in
            let o = r.lowerBound
            strata_adamw_update(isa, param + o, grad + o, m + o, v + o, r.count, lr, beta1, beta2, eps, lrWD,
                                invBC1, invBC2)
        }
    }
}
