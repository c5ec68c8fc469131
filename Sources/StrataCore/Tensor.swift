import StrataKernels

/// A contiguous, row-major Float32 tensor: a shape, a view into shared storage, and (when it takes part
/// in differentiation) its node in the autograd graph.
///
/// Tensors are values: ops return new tensors and never modify their inputs. `reshaped` and leading-axis
/// slices share storage with their source; everything else allocates.
public struct Tensor: @unchecked Sendable {
    /// Dimensions, outermost first. `[]` is a scalar.
    public let shape: [Int]
    /// The buffer this tensor views.
    public let storage: TensorStorage
    /// Element offset of this tensor's first element in `storage`.
    public let offset: Int
    /// Autograd node: a leaf that collects a gradient, or the op that produced this tensor.
    package let node: GradNode?

    package init(shape: [Int], storage: TensorStorage, offset: Int = 0, node: GradNode? = nil) {
        self.shape = shape
        self.storage = storage
        self.offset = offset
        self.node = node
    }

    /// A tensor of `shape` with uninitialized contents, for ops that overwrite every element.
    package init(uninitialized shape: [Int]) {
        self.init(shape: shape, storage: TensorStorage(uninitializedCount: Shape.count(shape)))
    }

    /// A tensor holding `values` in row-major order; the count must match the shape.
    public init(_ values: [Float], shape: [Int]) {
        guard values.count == Shape.count(shape), shape.allSatisfy({ $0 >= 0 }) else {
            shapeError("Tensor.init", "\(values.count) values do not fill shape \(shape)")
        }
        self.init(uninitialized: shape)
        values.withUnsafeBufferPointer { storage.base.update(from: $0.baseAddress!, count: values.count) }
    }

    /// A 1-D tensor of `values`.
    public init(_ values: [Float]) { self.init(values, shape: [values.count]) }

    /// A scalar (rank-0) tensor.
    public init(scalar value: Float) { self.init([value], shape: []) }

    /// A tensor of `shape` filled with `value`.
    public init(repeating value: Float, shape: [Int]) {
        guard shape.allSatisfy({ $0 >= 0 }) else { shapeError("Tensor.init", "negative size in \(shape)") }
        self.init(shape: shape, storage: TensorStorage(count: Shape.count(shape), repeating: value))
    }

    /// Zeros of `shape`.
    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(repeating: 0, shape: shape) }
    /// Ones of `shape`.
    public static func ones(_ shape: [Int]) -> Tensor { Tensor(repeating: 1, shape: shape) }

    /// `0, 1, …, count-1` as floats.
    public static func arange(_ count: Int) -> Tensor { Tensor((0..<count).map(Float.init)) }

    /// Number of elements.
    public var count: Int { Shape.count(shape) }
    /// Number of dimensions.
    public var rank: Int { shape.count }

    /// The elements in row-major order.
    public var scalars: [Float] {
        Array(UnsafeBufferPointer(start: storage.base + offset, count: count))
    }

    /// The single element of a one-element tensor.
    public var item: Float {
        guard count == 1 else { shapeError("item", "tensor of shape \(shape) has \(count) elements, not 1") }
        return storage.base[offset]
    }

    /// Calls `body` with a read-only pointer to the elements (for kernels and I/O).
    @inlinable
    public func withUnsafePointer<R>(_ body: (UnsafePointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafePointer(storage.base + offset))
    }

    /// Pointer to the first element, valid while this tensor (or its storage) is alive.
    package var pointer: UnsafeMutablePointer<Float> { storage.base + offset }

    /// Writes into this tensor's storage in place. Only for owners of unshared buffers such as optimizer
    /// state and parameters: views that share the storage see the change.
    public func withUnsafeMutablePointer<R>(_ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        defer { storage.version.add(1, ordering: .releasing) }
        return try body(storage.base + offset)
    }

    /// A copy with fresh storage and no autograd history.
    public func copy() -> Tensor {
        let out = Tensor(uninitialized: shape)
        out.pointer.update(from: pointer, count: count)
        return out
    }

    /// This tensor without its autograd history (shares storage).
    public func detached() -> Tensor { Tensor(shape: shape, storage: storage, offset: offset) }
}

extension Tensor: CustomStringConvertible {
    /// Shape plus up to the first 8 elements.
    public var description: String {
        let shown = scalars.prefix(8).map { String(format: "%.4g", $0) }.joined(separator: ", ")
        return "Tensor(\(shape), [\(shown)\(count > 8 ? ", …" : "")])"
    }
}

import Foundation
