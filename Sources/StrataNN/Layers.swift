import StrataCore

/// y = x Wᵀ + b with W stored [out, in] (the PyTorch layout, so checkpoints map one to one).
public final class Linear: Module {
    /// Weight [out, in].
    public let weight: Parameter
    /// Optional bias [out].
    public let bias: Parameter?

    /// A layer from `inputs` to `outputs` features; weights default to PyTorch's U(±1/√in).
    public init(_ inputs: Int, _ outputs: Int, bias: Bool = true, rng: inout RNG,
                weightInit: Initializer = .fanInUniform, biasInit: Initializer? = nil) {
        weight = Parameter(weightInit.make([outputs, inputs], rng: &rng))
        self.bias = bias
            ? Parameter((biasInit ?? .uniform(bound: 1 / Float(inputs).squareRoot())).make([outputs], rng: &rng), role: .bias)
            : nil
        super.init()
    }

    /// Input features.
    public var inputs: Int { weight.shape[1] }
    /// Output features.
    public var outputs: Int { weight.shape[0] }

    /// Applies the layer to x [..., in].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        guard x.shape.last == inputs else {
            shapeError("Linear", "input \(x.shape) does not end in \(inputs) features (weight \(weight.shape))")
        }
        return linear(x, weight: weight.value, bias: bias?.value)
    }
}

/// A lookup table of `count` vectors of `dimensions` floats, indexed by token id.
public final class Embedding: Module {
    /// Table [V, C].
    public let weight: Parameter

    /// A table initialized N(0, 1) by default (PyTorch's choice; models usually pass a smaller std).
    public init(_ count: Int, _ dimensions: Int, rng: inout RNG, initializer: Initializer = .normal(std: 1)) {
        weight = Parameter(initializer.make([count, dimensions], rng: &rng), role: .embedding)
        super.init()
    }

    /// Rows for `ids` laid out as `shape`; the result has shape `shape + [C]`.
    public func callAsFunction(_ ids: [Int32], shape: [Int]) -> Tensor {
        embedding(weight.value, ids: ids, shape: shape)
    }
}

/// Inverted dropout with its own seeded stream; the identity in evaluation mode or with p = 0.
public final class Dropout: Module {
    /// Probability of zeroing an element.
    public let probability: Float
    /// The generator state; saving and restoring it makes resumed training exact.
    public var rng: RNG

    /// Dropout with probability `p`, drawing masks from `seed`'s stream.
    public init(_ p: Float, seed: UInt64) {
        guard p >= 0 && p < 1 else { shapeError("Dropout", "probability \(p) must be in [0, 1)") }
        probability = p
        rng = RNG(seed: seed)
        super.init()
    }

    /// Applies dropout when training.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        guard isTraining, probability > 0 else { return x }
        return x.dropout(probability, rng: &rng)
    }
}
