import StrataKernels

// Unary math and activations run through the fused vector kernels; each backward is the kernel's
// derivative evaluated at the saved input.

extension Tensor {
    func activation(_ kind: ActivationKernels.Kind, _ name: String) -> Tensor {
        let out = Tensor(uninitialized: shape)
        ActivationKernels.forward(kind, x: pointer, y: out.pointer, count: count)
        let x = self
        return Tensor.record(name, out, [x]) { g in
            let dx = Tensor(uninitialized: x.shape)
            ActivationKernels.backward(kind, x: x.pointer, dy: g.pointer, dx: dx.pointer, count: x.count)
            return [dx]
        }
    }

    /// eˣ elementwise.
    public func exp() -> Tensor { activation(.exp, "exp") }
    /// Natural logarithm elementwise.
    public func log() -> Tensor { activation(.log, "log") }
    /// Square root elementwise.
    public func sqrt() -> Tensor { activation(.sqrt, "sqrt") }
    /// 1/√x elementwise.
    public func rsqrt() -> Tensor { activation(.rsqrt, "rsqrt") }
    /// Hyperbolic tangent.
    public func tanh() -> Tensor { activation(.tanh, "tanh") }
    /// Logistic sigmoid 1/(1+e⁻ˣ).
    public func sigmoid() -> Tensor { activation(.sigmoid, "sigmoid") }
    /// max(x, 0).
    public func relu() -> Tensor { activation(.relu, "relu") }
    /// GELU with the exact erf: x·Φ(x).
    public func gelu() -> Tensor { activation(.gelu, "gelu") }
    /// GELU with the tanh approximation of Hendrycks & Gimpel.
    public func geluTanh() -> Tensor { activation(.geluTanh, "gelu_tanh") }
    /// SiLU / swish: x·σ(x).
    public func silu() -> Tensor { activation(.silu, "silu") }
    /// softplus log(1+eˣ), computed stably.
    public func softplus() -> Tensor { activation(.softplus, "softplus") }

    /// |x|; the gradient at 0 is 0.
    public func abs() -> Tensor {
        let x = self
        return Tensor.record("abs", map { Swift.abs($0) }, [x]) { g in
            [g * x.detached().map { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) }]
        }
    }
}
