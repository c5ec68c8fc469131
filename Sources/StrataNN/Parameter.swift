import StrataCore

/// What a parameter is for; optimizers use it to form decay groups (no decay on norms, biases,
/// embeddings by default).
public enum ParameterRole: String, Sendable, Codable {
    case weight, bias, norm, embedding, other
}

/// A trainable tensor with a stable identity: a leaf of the autograd graph whose gradient accumulates
/// across uses, and whose storage optimizers update in place.
public final class Parameter {
    /// The current value (an autograd leaf).
    public private(set) var value: Tensor
    /// Role used for optimizer groups.
    public let role: ParameterRole

    /// Wraps `value` as a fresh leaf.
    public init(_ value: Tensor, role: ParameterRole = .weight) {
        self.value = value.detached().requiringGrad()
        self.role = role
    }

    /// Shape of the value.
    public var shape: [Int] { value.shape }
    /// Gradient accumulated by the last `backward()` calls, if any.
    public var grad: Tensor? { value.grad }
    /// Forgets the accumulated gradient.
    public func zeroGrad() { value.zeroGrad() }

    /// Replaces the value with a copy of `newValue` (same shape), keeping this parameter's identity.
    public func assign(_ newValue: Tensor) {
        guard newValue.shape == value.shape else {
            shapeError("Parameter.assign", "new value has shape \(newValue.shape), parameter has \(value.shape)")
        }
        value = newValue.copy().requiringGrad()
    }
}
