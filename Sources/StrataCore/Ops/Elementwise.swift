import StrataKernels

// Binary ops broadcast like NumPy. A gradient flowing into a broadcast input is summed back to that
// input's shape (`sumToShape`), which is the one rule that makes every broadcasting gradient correct.

extension Tensor {
    /// Elementwise `op` of two broadcastable tensors, with no autograd recording.
    static func broadcastValue(_ op: BinaryOp, _ a: Tensor, _ b: Tensor, name: String) -> Tensor {
        let shape = Shape.broadcastOrFail(a.shape, b.shape, op: name)
        let out = Tensor(uninitialized: shape)
        broadcastBinary(op, a: a.pointer, aStrides: broadcastStrides(a.shape, to: shape),
                        b: b.pointer, bStrides: broadcastStrides(b.shape, to: shape),
                        out: out.pointer, shape: shape)
        return out
    }

    /// Strides of a contiguous tensor of `shape` read as the broadcast shape `target` (0 on expanded axes).
    static func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
        let own = Shape.strides(shape)
        let lead = target.count - shape.count
        return (0..<target.count).map { d in
            d < lead || shape[d - lead] == 1 ? 0 : own[d - lead]
        }
    }

    /// Sums this gradient over the axes that broadcasting expanded, giving a tensor of `shape`.
    public func sumToShape(_ shape: [Int]) -> Tensor {
        if self.shape == shape { return self }
        let lead = rank - shape.count
        var axes: [Int] = Array(0..<lead)
        for d in 0..<shape.count where shape[d] == 1 && self.shape[d + lead] != 1 { axes.append(d + lead) }
        return sum(axes: axes, keepDims: true).reshaped(shape)
    }

    static func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor, name: String,
                       backward: @escaping (Tensor) -> (Tensor?, Tensor?)) -> Tensor {
        let value = broadcastValue(op, a, b, name: name)
        return record(name, value, [a, b]) { g in
            let (ga, gb) = backward(g)
            return [ga?.sumToShape(a.shape), gb?.sumToShape(b.shape)]
        }
    }

    /// Elementwise sum (broadcasting).
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        binary(.add, a, b, name: "add") { g in (g, g) }
    }

    /// Elementwise difference (broadcasting).
    public static func - (a: Tensor, b: Tensor) -> Tensor {
        binary(.sub, a, b, name: "sub") { g in (g, -g) }
    }

    /// Elementwise product (broadcasting).
    public static func * (a: Tensor, b: Tensor) -> Tensor {
        binary(.mul, a, b, name: "mul") { g in
            (a.node == nil ? nil : g * b.detached(), b.node == nil ? nil : g * a.detached())
        }
    }

    /// Elementwise quotient (broadcasting).
    public static func / (a: Tensor, b: Tensor) -> Tensor {
        binary(.div, a, b, name: "div") { g in
            let ga = g / b.detached()
            return (ga, b.node == nil ? nil : -(ga * a.detached()) / b.detached())
        }
    }

    /// Negation.
    public static prefix func - (a: Tensor) -> Tensor {
        let out = Tensor(uninitialized: a.shape)
        mapElements(count: a.count, x: a.pointer, out: out.pointer) { -$0 }
        return record("neg", out, [a]) { g in [-g] }
    }

    public static func + (a: Tensor, s: Float) -> Tensor { a + Tensor(scalar: s) }
    public static func + (s: Float, a: Tensor) -> Tensor { Tensor(scalar: s) + a }
    public static func - (a: Tensor, s: Float) -> Tensor { a - Tensor(scalar: s) }
    public static func - (s: Float, a: Tensor) -> Tensor { Tensor(scalar: s) - a }
    public static func * (a: Tensor, s: Float) -> Tensor { a * Tensor(scalar: s) }
    public static func * (s: Float, a: Tensor) -> Tensor { Tensor(scalar: s) * a }
    public static func / (a: Tensor, s: Float) -> Tensor { a / Tensor(scalar: s) }
    public static func / (s: Float, a: Tensor) -> Tensor { Tensor(scalar: s) / a }

    /// Elementwise power with a tensor exponent (broadcasting); the base must be positive where the
    /// exponent's gradient is needed.
    public func pow(_ exponent: Tensor) -> Tensor {
        let base = self
        return Tensor.binary(.pow, base, exponent, name: "pow") { g in
            let b = base.detached(), e = exponent.detached()
            let ga = g * e * b.pow(e - 1)
            let gb = exponent.node == nil ? nil : g * b.pow(e) * b.log()
            return (ga, gb)
        }
    }

    /// Elementwise power with a constant exponent.
    public func pow(_ exponent: Float) -> Tensor {
        let out = Tensor(uninitialized: shape)
        let x = self
        if exponent == 2 {
            mapElements(count: count, x: pointer, out: out.pointer) { $0 * $0 }
        } else {
            mapElements(count: count, x: pointer, out: out.pointer) { powf($0, exponent) }
        }
        return Tensor.record("pow", out, [x]) { g in [g * exponent * x.detached().pow(exponent - 1)] }
    }

    /// Elementwise maximum (broadcasting); the gradient goes to `self` where it is ≥ `other`.
    public func maximum(_ other: Tensor) -> Tensor {
        let a = self
        return Tensor.binary(.maximum, a, other, name: "maximum") { g in
            let pick = Tensor.broadcastValue(.sub, a.detached(), other.detached(), name: "maximum").map { $0 >= 0 ? 1 : 0 }
            return (g * pick, g * (1 - pick))
        }
    }

    /// Elementwise minimum (broadcasting); the gradient goes to `self` where it is ≤ `other`.
    public func minimum(_ other: Tensor) -> Tensor {
        let a = self
        return Tensor.binary(.minimum, a, other, name: "minimum") { g in
            let pick = Tensor.broadcastValue(.sub, a.detached(), other.detached(), name: "minimum").map { $0 <= 0 ? 1 : 0 }
            return (g * pick, g * (1 - pick))
        }
    }

    /// Applies `f` to every element, with no gradient (masks, comparisons, constants).
    public func map(_ f: (Float) -> Float) -> Tensor {
        let out = Tensor(uninitialized: shape)
        mapElements(count: count, x: pointer, out: out.pointer, f)
        return out
    }

    /// Clamps into [low, high] (either bound optional); the gradient passes where the input is inside.
    public func clamp(min low: Float? = nil, max high: Float? = nil) -> Tensor {
        let lo = low ?? -.infinity, hi = high ?? .infinity
        let out = map { Swift.min(Swift.max($0, lo), hi) }
        let x = self
        return Tensor.record("clamp", out, [x]) { g in
            [g * x.detached().map { $0 >= lo && $0 <= hi ? 1 : 0 }]
        }
    }

    /// Elementwise select: `condition != 0 ? a : b`, all three broadcast together.
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        let mask = condition.map { $0 != 0 ? 1 : 0 }
        let keep = mask.detached(), drop = mask.map { 1 - $0 }
        // a·m + b·(1−m) would turn an infinite unselected value into NaN; select explicitly instead.
        let shape = Shape.broadcastOrFail(Shape.broadcastOrFail(condition.shape, a.shape, op: "where"),
                                          b.shape, op: "where")
        let m = keep.expandedValue(shape), av = a.expandedValue(shape), bv = b.expandedValue(shape)
        let out = Tensor(uninitialized: shape)
        // The expanded operands may be fresh copies used only through their pointers: keep them alive.
        withExtendedLifetime((m, av, bv)) {
            let pm = m.pointer, pa = av.pointer, pb = bv.pointer, po = out.pointer
            parallelFor(out.count, grain: 32_768) { r in for i in r { po[i] = pm[i] != 0 ? pa[i] : pb[i] } }
        }
        return record("where", out, [a, b]) { g in
            [(g * keep).sumToShape(a.shape), (g * drop).sumToShape(b.shape)]
        }
    }

    /// Replaces elements where `mask != 0` by `value` (mask broadcasts to this tensor's shape).
    public func maskedFill(_ mask: Tensor, _ value: Float) -> Tensor {
        Tensor.where(mask, Tensor(scalar: value), self).reshaped(
            Shape.broadcastOrFail(mask.shape, shape, op: "maskedFill"))
    }

    /// A contiguous copy of this tensor's values broadcast to `shape` (no autograd).
    func expandedValue(_ shape: [Int]) -> Tensor {
        if self.shape == shape { return self }
        return Tensor.broadcastValue(.add, self, Tensor.zeros(shape), name: "expand")
    }
}

import Foundation
