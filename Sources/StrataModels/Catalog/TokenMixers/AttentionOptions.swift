import Foundation
import StrataCore
import StrataNN

/// Options every softmax-family mixer shares (catalog section 2 "attention options"): head layout (`gqa`),
/// `qk_norm`, the output gate of `gated_attention`, `sigma_reparam`, a sliding `window` and projection biases.
public struct AttentionOptions: Sendable, Equatable {
    /// Key/value heads K (H = K is MHA, K = 1 is MQA); nil means K = H.
    public var kvHeads: Int?
    /// Per-head normalization of queries and keys over D before the dot product.
    public var qkNorm: QKNormKind
    /// Output gate applied to each head's attention output before the output projection.
    public var gate: AttentionGateKind
    /// π_init = σ(b_init): the gate's initial openness (Quantizable Transformers initialize the gate bias so).
    public var gateInit: Float
    /// σReparam on the q/k/v and output projections.
    public var sigmaReparam: Bool
    /// Sliding window w (keys s with t − w < s ≤ t); nil attends to every key.
    public var window: Int?
    /// Biases on the projections (GPT-2 style).
    public var bias: Bool

    /// Reads the shared keys; `gate` and `window` defaults differ per variant (`gated_attention`,
    /// `sliding_window_attention`).
    public init(_ r: inout OptionReader, defaultGate: AttentionGateKind = .none, defaultWindow: Int? = nil) {
        kvHeads = r.optionalInt("kv_heads", "key/value heads (default: heads; 1 = multi-query)", in: 1...4096)
        let norm = r.choice("qk_norm", default: "none", among: QKNormKind.allCases.map(\.rawValue),
                            "per-head normalization of q and k over D (rms/layer with a learnable gain; l2 bounds |score| ≤ 1/√D)")
        qkNorm = QKNormKind(rawValue: norm) ?? .none
        let g = r.choice("gate", default: defaultGate.rawValue, among: AttentionGateKind.allCases.map(\.rawValue),
                         "output gate σ(G(x)): head = one scalar per head from the head's C/H slice of x (Quantizable Transformers), all_heads = Linear C→H, elementwise = Linear C→H·D")
        gate = AttentionGateKind(rawValue: g) ?? .none
        gateInit = r.float("gate_init", default: 0.5, "initial gate value π_init = σ(b_init)", in: 0.001...0.999)
        sigmaReparam = r.bool("sigma_reparam", default: false,
                              "σReparam Ŵ = γ/σ_max(W)·W on the q, k, v and output projections (one power-iteration step per training forward)")
        if let w = defaultWindow {
            window = r.int("window", default: w, "sliding window w: query t sees keys t−w < s ≤ t (encoders: |s−t| < w); the KV cache keeps w entries", in: 1...1 << 30)
        } else {
            window = r.optionalInt("window", "sliding window w: query t sees keys t−w < s ≤ t (encoders: |s−t| < w; default: none); the KV cache keeps w entries",
                                   in: 1...1 << 30)
        }
        bias = r.bool("bias", default: false, "biases on the q/k/v and output projections")
    }

    /// Defaults (as an empty spec object would give).
    public init() {
        var r = OptionReader([:], path: "")
        self.init(&r)
    }
}

/// Per-head query/key normalization (catalog `qk_norm`).
public enum QKNormKind: String, CaseIterable, Sendable {
    /// No normalization.
    case none
    /// RMSNorm over D with a learnable gain [D] (shared by the heads, one for q and one for k).
    case rms
    /// LayerNorm over D with a learnable gain [D] and no bias.
    case layer
    /// x / ‖x‖₂ over D, no parameters (as `deltanet` does for keys).
    case l2
}

/// The output gate of `gated_attention`.
public enum AttentionGateKind: String, CaseIterable, Sendable {
    /// No gate.
    case none
    /// Quantizable Transformers (Bondarenko et al., 2023) default: per head h, π_h = σ(w_hᵀ x_h + b_h) with x_h the
    /// h-th C/H-wide slice of the token's input; H·(C/H + 1) parameters.
    case head
    /// One scalar per head from the whole token: σ(W x + b), W [H, C] (the paper's "all heads linear" ablation).
    case allHeads = "all_heads"
    /// One gate per output channel: σ(W x + b), W [H·D, C] (the elementwise SDPA-output gate of Qiu et al., 2025).
    case elementwise
}

/// Normalizes per-head queries or keys over D (catalog `qk_norm`).
public final class QKNorm: Module {
    /// Gain [D] for rms/layer; nil for l2.
    public let gain: Parameter?
    /// The kind.
    public let kind: QKNormKind

    /// A norm of `kind` over `headDim` (gain initialized to 1).
    public init(_ kind: QKNormKind, headDim: Int) {
        self.kind = kind
        gain = kind == .rms || kind == .layer ? Parameter(.ones([headDim]), role: .norm) : nil
        super.init()
    }

    /// Parameters of one norm.
    public static func parameterCount(_ kind: QKNormKind, headDim: Int) -> Int {
        kind == .rms || kind == .layer ? headDim : 0
    }

    /// x [B, H, T, D] → normalized over D.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch kind {
        case .none: return x
        case .rms: return x.rmsNorm(weight: gain!.value, eps: 1e-6)
        case .layer: return x.layerNorm(weight: gain!.value, bias: nil, eps: 1e-5)
        case .l2:
            // ε inside the root keeps the gradient finite at x = 0; |q̂·k̂| ≤ 1 still holds.
            return x * ((x * x).sum(axis: -1, keepDims: true) + 1e-12).rsqrt()
        }
    }
}

/// The output gate σ(G(x)) of `gated_attention`, in one of three granularities.
public final class AttentionGate: Module {
    /// Gate weight: [H, C/H] for `head`, [H, C] for `all_heads`, [H·D, C] for `elementwise`.
    public let weight: Parameter
    /// Gate bias, initialized to logit(π_init).
    public let bias: Parameter
    /// The granularity.
    public let kind: AttentionGateKind
    let heads: Int, headDim: Int

    /// Builds the gate for `context`; `head` needs C divisible by H.
    public init(_ kind: AttentionGateKind, initialValue: Float, context: BuildContext, rng: inout RNG) {
        self.kind = kind
        heads = context.heads
        headDim = context.headDim
        let c = context.dim
        // Internal invariant: `AttentionMixer.attentionIssues` rejects this in `ModelSpec.validate()`.
        guard kind != .head || c % heads == 0 else {
            shapeError("gated_attention", "gate \"head\" splits the input into heads: dim \(c) must be a multiple of heads \(heads); use gate \"all_heads\"")
        }
        let shape = AttentionGate.weightShape(kind, context)
        weight = Parameter(Initializer.normal(std: context.initStd).make(shape, rng: &rng))
        let b = Float(Foundation.log(Double(initialValue) / Double(1 - initialValue)))
        bias = Parameter(Tensor([Float](repeating: b, count: shape[0]), shape: [shape[0]]), role: .bias)
        super.init()
    }

    static func weightShape(_ kind: AttentionGateKind, _ c: BuildContext) -> [Int] {
        switch kind {
        case .none, .allHeads: return [c.heads, c.dim]
        case .head: return [c.heads, c.dim / c.heads]
        case .elementwise: return [c.heads * c.headDim, c.dim]
        }
    }

    /// Parameters of the gate.
    public static func parameterCount(_ kind: AttentionGateKind, context: BuildContext) -> Int {
        guard kind != .none else { return 0 }
        let s = weightShape(kind, context)
        return s[0] * s[1] + s[0]
    }

    /// Gates o [B, T, H, D] by σ(G(x)) computed from the mixer input x [B, T, C].
    public func callAsFunction(_ o: Tensor, input x: Tensor) -> Tensor {
        let (b, t) = (x.shape[0], x.shape[1])
        switch kind {
        case .none:
            return o
        case .head:
            let xh = x.reshaped([b, t, heads, x.shape[2] / heads])            // [B, T, H, C/H]
            let g = (xh * weight.value).sum(axis: -1) + bias.value             // [B, T, H]
            return o * g.sigmoid().reshaped([b, t, heads, 1])
        case .allHeads:
            let g = x.matmul(weight.value, transposeB: true) + bias.value      // [B, T, H]
            return o * g.sigmoid().reshaped([b, t, heads, 1])
        case .elementwise:
            let g = x.matmul(weight.value, transposeB: true) + bias.value      // [B, T, H·D]
            return o * g.sigmoid().reshaped([b, t, heads, headDim])
        }
    }
}
