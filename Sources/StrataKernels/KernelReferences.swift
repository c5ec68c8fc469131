import Foundation

// Slow twins of the fused vector-math kernels: plain loops, libm math, Double accumulation. Tests tie
// each fast kernel to its twin; they are also the readable statement of what each kernel computes.

extension NormKernels {
    /// Reference twin of `layerNormForward`.
    public static func layerNormForwardReference(x: UnsafePointer<Float>, weight: UnsafePointer<Float>?,
                                                 bias: UnsafePointer<Float>?, rows: Int, cols: Int, eps: Float,
                                                 y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
                                                 rstd: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let xr = x + r * cols
            var mu = 0.0
            for c in 0..<cols { mu += Double(xr[c]) }
            mu /= Double(cols)
            var variance = 0.0
            for c in 0..<cols { variance += (Double(xr[c]) - mu) * (Double(xr[c]) - mu) }
            let rs = 1 / (variance / Double(cols) + Double(eps)).squareRoot()
            for c in 0..<cols {
                let h = (Double(xr[c]) - mu) * rs
                y[r * cols + c] = Float(h * Double(weight?[c] ?? 1) + Double(bias?[c] ?? 0))
            }
            mean[r] = Float(mu)
            rstd[r] = Float(rs)
        }
    }

    /// Reference twin of `layerNormBackward` (dWeight / dBias accumulated).
    public static func layerNormBackwardReference(x: UnsafePointer<Float>, weight: UnsafePointer<Float>?,
                                                  mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                                                  dy: UnsafePointer<Float>, rows: Int, cols: Int,
                                                  dx: UnsafeMutablePointer<Float>,
                                                  dWeight: UnsafeMutablePointer<Float>?,
                                                  dBias: UnsafeMutablePointer<Float>?) {
        var dw = [Double](repeating: 0, count: cols), db = dw
        for r in 0..<rows {
            let o = r * cols, mu = Double(mean[r]), rs = Double(rstd[r])
            var sg = 0.0, sgx = 0.0
            for c in 0..<cols {
                let h = (Double(x[o + c]) - mu) * rs, g = Double(dy[o + c]) * Double(weight?[c] ?? 1)
                sg += g
                sgx += g * h
                dw[c] += Double(dy[o + c]) * h
                db[c] += Double(dy[o + c])
            }
            for c in 0..<cols {
                let h = (Double(x[o + c]) - mu) * rs, g = Double(dy[o + c]) * Double(weight?[c] ?? 1)
                dx[o + c] = Float(rs * (g - sg / Double(cols) - h * sgx / Double(cols)))
            }
        }
        for c in 0..<cols {
            dWeight?[c] += Float(dw[c])
            dBias?[c] += Float(db[c])
        }
    }

    /// Reference twin of `rmsNormForward`.
    public static func rmsNormForwardReference(x: UnsafePointer<Float>, weight: UnsafePointer<Float>?, rows: Int,
                                               cols: Int, eps: Float, y: UnsafeMutablePointer<Float>,
                                               rstd: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            var ss = 0.0
            for c in 0..<cols { ss += Double(x[r * cols + c]) * Double(x[r * cols + c]) }
            let rs = 1 / (ss / Double(cols) + Double(eps)).squareRoot()
            for c in 0..<cols { y[r * cols + c] = Float(Double(x[r * cols + c]) * rs * Double(weight?[c] ?? 1)) }
            rstd[r] = Float(rs)
        }
    }

    /// Reference twin of `rmsNormBackward` (dWeight accumulated).
    public static func rmsNormBackwardReference(x: UnsafePointer<Float>, weight: UnsafePointer<Float>?,
                                                rstd: UnsafePointer<Float>, dy: UnsafePointer<Float>, rows: Int,
                                                cols: Int, dx: UnsafeMutablePointer<Float>,
                                                dWeight: UnsafeMutablePointer<Float>?) {
        var dw = [Double](repeating: 0, count: cols)
        for r in 0..<rows {
            let o = r * cols, rs = Double(rstd[r])
            var sgx = 0.0
            for c in 0..<cols {
                let h = Double(x[o + c]) * rs
                sgx += Double(dy[o + c]) * Double(weight?[c] ?? 1) * h
                dw[c] += Double(dy[o + c]) * h
            }
            for c in 0..<cols {
                let h = Double(x[o + c]) * rs, g = Double(dy[o + c]) * Double(weight?[c] ?? 1)
                dx[o + c] = Float(rs * (g - h * sgx / Double(cols)))
            }
        }
        for c in 0..<cols { dWeight?[c] += Float(dw[c]) }
    }
}

extension SoftmaxKernels {
    /// max and log Σ exp(x − max) of one row in Double; max is −inf for an all −inf row.
    static func referenceLogSumExp(_ x: UnsafePointer<Float>, _ n: Int) -> (max: Double, logSum: Double) {
        var m = -Double.infinity
        for c in 0..<n { m = max(m, Double(x[c])) }
        guard m > -Double.infinity else { return (m, -Double.infinity) }
        var s = 0.0
        for c in 0..<n { s += Foundation.exp(Double(x[c]) - m) }
        return (m, Foundation.log(s))
    }

    /// Reference twin of `softmaxForward`.
    public static func softmaxForwardReference(x: UnsafePointer<Float>, rows: Int, cols: Int,
                                               y: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let o = r * cols, (m, ls) = referenceLogSumExp(x + o, cols)
            for c in 0..<cols { y[o + c] = m == -.infinity ? 0 : Float(Foundation.exp(Double(x[o + c]) - m - ls)) }
        }
    }

    /// Reference twin of `softmaxBackward`.
    public static func softmaxBackwardReference(y: UnsafePointer<Float>, dy: UnsafePointer<Float>, rows: Int,
                                                cols: Int, dx: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let o = r * cols
            var s = 0.0
            for c in 0..<cols { s += Double(dy[o + c]) * Double(y[o + c]) }
            for c in 0..<cols { dx[o + c] = Float(Double(y[o + c]) * (Double(dy[o + c]) - s)) }
        }
    }

    /// Reference twin of `logSoftmaxForward`.
    public static func logSoftmaxForwardReference(x: UnsafePointer<Float>, rows: Int, cols: Int,
                                                  y: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let o = r * cols, (m, ls) = referenceLogSumExp(x + o, cols)
            for c in 0..<cols { y[o + c] = m == -.infinity ? -.infinity : Float(Double(x[o + c]) - m - ls) }
        }
    }

    /// Reference twin of `logSoftmaxBackward`.
    public static func logSoftmaxBackwardReference(y: UnsafePointer<Float>, dy: UnsafePointer<Float>, rows: Int,
                                                   cols: Int, dx: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let o = r * cols
            var s = 0.0
            for c in 0..<cols { s += Double(dy[o + c]) }
            for c in 0..<cols { dx[o + c] = Float(Double(dy[o + c]) - Foundation.exp(Double(y[o + c])) * s) }
        }
    }
}

extension CrossEntropyKernels {
    /// Reference twin of `forward`.
    public static func forwardReference(logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>, rows: Int,
                                        vocab: Int, ignoreIndex: Int32, labelSmoothing: Float,
                                        losses: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>) {
        check("forwardReference", targets, rows, vocab, ignoreIndex, labelSmoothing)
        let eps = Double(labelSmoothing)
        for n in 0..<rows {
            let o = n * vocab, (m, ls) = SoftmaxKernels.referenceLogSumExp(logits + o, vocab)
            lse[n] = Float(m + ls)
            guard targets[n] != ignoreIndex else { losses[n] = 0; continue }
            var loss = 0.0
            for v in 0..<vocab {
                let logp = Double(logits[o + v]) - m - ls
                let q = eps / Double(vocab) + (v == Int(targets[n]) ? 1 - eps : 0)
                if q != 0 { loss -= q * logp }
            }
            losses[n] = Float(loss)
        }
    }

    /// Reference twin of `backward`.
    public static func backwardReference(logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>,
                                         lse: UnsafePointer<Float>, dLoss: UnsafePointer<Float>, rows: Int,
                                         vocab: Int, ignoreIndex: Int32, labelSmoothing: Float,
                                         dLogits: UnsafeMutablePointer<Float>) {
        check("backwardReference", targets, rows, vocab, ignoreIndex, labelSmoothing)
        let eps = Double(labelSmoothing)
        for n in 0..<rows {
            let o = n * vocab
            for v in 0..<vocab {
                guard targets[n] != ignoreIndex else { dLogits[o + v] = 0; continue }
                let p = Foundation.exp(Double(logits[o + v]) - Double(lse[n]))
                let q = eps / Double(vocab) + (v == Int(targets[n]) ? 1 - eps : 0)
                dLogits[o + v] = Float(Double(dLoss[n]) * (p - q))
            }
        }
    }
}

extension AdamWKernel {
    /// Reference twin of `update`, in Double per element.
    public static func updateReference(param: UnsafeMutablePointer<Float>, grad: UnsafePointer<Float>,
                                       m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int,
                                       lr: Float, beta1: Float, beta2: Float, eps: Float, weightDecay: Float,
                                       step: Int) {
        let b1 = Double(beta1), b2 = Double(beta2), lr = Double(lr)
        let bc1 = 1 - Foundation.pow(b1, Double(step)), bc2 = 1 - Foundation.pow(b2, Double(step))
        for i in 0..<count {
            var p = Double(param[i])
            let g = Double(grad[i])
            p -= lr * Double(weightDecay) * p
            let mi = b1 * Double(m[i]) + (1 - b1) * g
            let vi = b2 * Double(v[i]) + (1 - b2) * g * g
            p -= lr * (mi / bc1) / ((vi / bc2).squareRoot() + Double(eps))
            param[i] = Float(p)
            m[i] = Float(mi)
            v[i] = Float(vi)
        }
    }
}

extension ActivationKernels {
    /// f(x) in Double, straight from each function's textbook definition.
    public static func referenceValue(_ kind: Kind, _ x: Double) -> Double {
        switch kind {
        case .exp: return Foundation.exp(x)
        case .log: return Foundation.log(x)
        case .tanh: return Foundation.tanh(x)
        case .sigmoid: return x >= 0 ? 1 / (1 + Foundation.exp(-x)) : Foundation.exp(x) / (1 + Foundation.exp(x))
        case .relu: return x < 0 ? 0 : x
        case .gelu: return 0.5 * x * Foundation.erfc(-x / 2.0.squareRoot())
        case .geluTanh: return 0.5 * x * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
        case .silu: return x * referenceValue(.sigmoid, x)
        case .softplus: return max(x, 0) + Foundation.log1p(Foundation.exp(-abs(x)))
        case .sqrt: return x.squareRoot()
        case .rsqrt: return 1 / x.squareRoot()
        }
    }

    /// f'(x) in Double.
    public static func referenceDerivative(_ kind: Kind, _ x: Double) -> Double {
        switch kind {
        case .exp: return Foundation.exp(x)
        case .log: return 1 / x
        case .tanh: let t = Foundation.tanh(x); return 1 - t * t
        case .sigmoid: let s = referenceValue(.sigmoid, x); return s * (1 - s)
        case .relu: return x > 0 ? 1 : 0
        case .gelu:
            return 0.5 * Foundation.erfc(-x / 2.0.squareRoot()) + x * Foundation.exp(-0.5 * x * x) / (2 * Double.pi).squareRoot()
        case .geluTanh:
            let k = (2 / Double.pi).squareRoot(), t = Foundation.tanh(k * (x + 0.044715 * x * x * x))
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x)
        case .silu: let s = referenceValue(.sigmoid, x); return s * (1 + x * (1 - s))
        case .softplus: return referenceValue(.sigmoid, x)
        case .sqrt: return 0.5 / x.squareRoot()
        case .rsqrt: return -0.5 / (x * x.squareRoot())
        }
    }

    /// Reference twin of `forward`.
    public static func forwardReference(_ kind: Kind, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                                        count: Int) {
        for i in 0..<count { y[i] = Float(referenceValue(kind, Double(x[i]))) }
    }

    /// Reference twin of `backward`.
    public static func backwardReference(_ kind: Kind, x: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                         dx: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { dx[i] = Float(Double(dy[i]) * referenceDerivative(kind, Double(x[i]))) }
    }
}
