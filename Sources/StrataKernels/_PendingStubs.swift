// TEMPORARY: naive stand-ins until the kernel branches merge. Deleted at merge.
import Foundation
public func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    for i in 0..<m { for j in 0..<n {
        var s: Float = 0
        for p in 0..<k { s += (transA ? a[p * lda + i] : a[i * lda + p]) * (transB ? b[j * ldb + p] : b[p * ldb + j]) }
        c[i * ldc + j] = alpha * s + (beta == 0 ? 0 : beta * c[i * ldc + j])
    } }
}
public func sgemmBatched(batch: Int, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, strideA: Int, b: UnsafePointer<Float>, ldb: Int, strideB: Int, beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, strideC: Int) {
    for i in 0..<batch { sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a + i * strideA, lda: lda, b: b + i * strideB, ldb: ldb, beta: beta, c: c + i * strideC, ldc: ldc) }
}
public enum ActivationKernels {
    public enum Kind: Sendable, CaseIterable { case exp, log, tanh, sigmoid, relu, gelu, geluTanh, silu, softplus, sqrt, rsqrt }
    static func f(_ k: Kind, _ x: Float) -> Float {
        switch k {
        case .exp: return Foundation.exp(x)
        case .log: return Foundation.log(x)
        case .tanh: return Foundation.tanh(x)
        case .sigmoid: return 1 / (1 + Foundation.exp(-x))
        case .relu: return max(x, 0)
        case .gelu: return 0.5 * x * (1 + erf(x / Float(2).squareRoot()))
        case .geluTanh: return 0.5 * x * (1 + Foundation.tanh(0.7978845608 * (x + 0.044715 * x * x * x)))
        case .silu: return x / (1 + Foundation.exp(-x))
        case .softplus: return x > 20 ? x : log1p(Foundation.exp(x))
        case .sqrt: return x.squareRoot()
        case .rsqrt: return 1 / x.squareRoot()
        }
    }
    static func d(_ k: Kind, _ x: Float) -> Float {
        switch k {
        case .exp: return Foundation.exp(x)
        case .log: return 1 / x
        case .tanh: let t = Foundation.tanh(x); return 1 - t * t
        case .sigmoid: let s = 1 / (1 + Foundation.exp(-x)); return s * (1 - s)
        case .relu: return x > 0 ? 1 : 0
        case .gelu: let cdf: Float = 0.5 * (1 + erf(x / Float(2).squareRoot())); let pdf: Float = Foundation.exp(-x * x / 2) / (2 * Float.pi).squareRoot(); return cdf + x * pdf
        case .geluTanh: let u = 0.7978845608 * (x + 0.044715 * x * x * x); let t = Foundation.tanh(u); return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * 0.7978845608 * (1 + 3 * 0.044715 * x * x)
        case .silu: let s = 1 / (1 + Foundation.exp(-x)); return s * (1 + x * (1 - s))
        case .softplus: return 1 / (1 + Foundation.exp(-x))
        case .sqrt: return 0.5 / x.squareRoot()
        case .rsqrt: return -0.5 / (x * x.squareRoot())
        }
    }
    public static func forward(_ kind: Kind, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, count: Int) { for i in 0..<count { y[i] = f(kind, x[i]) } }
    public static func backward(_ kind: Kind, x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, count: Int) { for i in 0..<count { dx[i] = dy[i] * d(kind, x[i]) } }
}
