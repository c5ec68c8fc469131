import CStrataKernels

/// Elementwise activation functions over `count` floats: forward y = f(x), backward dx = dy · f'(x).
public enum ActivationKernels {
    /// The elementwise functions; `gelu` is the exact erf form, `geluTanh` the tanh approximation.
    public enum Kind: Sendable, CaseIterable {
        case exp, log, tanh, sigmoid, relu, gelu, geluTanh, silu, softplus, sqrt, rsqrt

        var cKind: strata_activation {
            switch self {
            case .exp: return STRATA_ACT_EXP
            case .log: return STRATA_ACT_LOG
            case .tanh: return STRATA_ACT_TANH
            case .sigmoid: return STRATA_ACT_SIGMOID
            case .relu: return STRATA_ACT_RELU
            case .gelu: return STRATA_ACT_GELU
            case .geluTanh: return STRATA_ACT_GELU_TANH
            case .silu: return STRATA_ACT_SILU
            case .softplus: return STRATA_ACT_SOFTPLUS
            case .sqrt: return STRATA_ACT_SQRT
            case .rsqrt: return STRATA_ACT_RSQRT
            }
        }
    }

    /// y[i] = f(x[i]) for i in 0..<count (x and y may be the same buffer).
    public static func forward(_ kind: Kind, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, count: Int) {
        precondition(count >= 0, "ActivationKernels.forward(\(kind)): count must be ≥ 0, got \(count)")
        let isa = VecMath.cISA, ck = kind.cKind
        parallelFor(count, grain: VecMath.elementGrain) { r in
            strata_activation_forward(isa, ck, x + r.lowerBound, y + r.lowerBound, r.count)
        }
    }

    /// dx[i] = dy[i] · f'(x[i]) for i in 0..<count (dx may alias dy).
    public static func backward(_ kind: Kind, x: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                                dx: UnsafeMutablePointer<Float>, count: Int) {
        precondition(count >= 0, "ActivationKernels.backward(\(kind)): count must be ≥ 0, got \(count)")
        let isa = VecMath.cISA, ck = kind.cKind
        parallelFor(count, grain: VecMath.elementGrain) { r in
            strata_activation_backward(isa, ck, x + r.lowerBound, dy + r.lowerBound, dx + r.lowerBound, r.count)
        }
    }
}

/// Shared settings of the vector-math kernels: which ISA the C code runs, and the parallel grains.
package enum VecMath {
    /// The ISA the vecmath kernels use in this task; tests lower it to check every compiled path.
    @TaskLocal package static var isa: VectorISA = .detected

    /// The ISAs this machine can run, lowest first (always includes `.portable`).
    package static var supportedISAs: [VectorISA] {
        switch VectorISA.detected {
        case .avx512: return [.portable, .avx2, .avx512]
        case .avx2: return [.portable, .avx2]
        case .neon: return [.neon]
        case .portable: return [.portable]
        }
    }

    static var cISA: strata_isa {
        switch isa {
        case .avx512: return STRATA_ISA_AVX512
        case .avx2: return STRATA_ISA_AVX2
        case .neon: return STRATA_ISA_NEON
        case .portable: return STRATA_ISA_PORTABLE
        }
    }

    /// Elements per chunk below which elementwise work stays on one thread (a wake-up costs µs).
    static let elementGrain = 32_768

    /// Rows per chunk for row kernels, so each chunk carries at least ~16K elements.
    static func rowGrain(_ cols: Int) -> Int { max(1, 16_384 / max(1, cols)) }
}
