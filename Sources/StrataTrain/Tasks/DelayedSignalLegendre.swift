import Foundation
import StrataCore
import StrataModels

/// The closed-form Legendre delay line of the LMU (Voelker, Kajić & Eliasmith 2019; catalog `lmu` check b): the
/// fixed memory m_t = Ā·m_{t−1} + B̄·u_t of `LegendreMemory` (the `lmu` mixer's), decoded without training:
/// u(t − θ') ≈ Σ_i P̃_i(θ'/θ)·m_i(t) with P̃_i(r) = P_i(2r − 1). It is the reference the `delayed_signal` table
/// prints next to trained models: what an untrained LMU memory of order q recovers.
public struct LegendreDelayLine: Sendable {
    /// The discretized memory.
    public let memory: LegendreMemory
    /// Legendre orders q.
    public var order: Int { memory.order }
    /// Window θ in steps.
    public var window: Double { memory.window }
    /// Ā [q, q], row-major.
    public var transition: [Double] { memory.transition }
    /// B̄ [q].
    public var input: [Double] { memory.input }

    /// The discretized memory of `order` q over a window of θ steps.
    public init(order q: Int, window theta: Double) {
        memory = LegendreMemory(order: q, window: theta)
    }

    /// Shifted Legendre polynomials P̃_0…P̃_{q−1} at r ∈ [0, 1], by the recurrence of P_i at x = 2r − 1.
    public static func shiftedLegendre(_ r: Double, count: Int) -> [Double] {
        let x = 2 * r - 1
        var p = [Double](repeating: 0, count: count)
        if count > 0 { p[0] = 1 }
        if count > 1 { p[1] = x }
        if count > 2 {
            for i in 2..<count { p[i] = (Double(2 * i - 1) * x * p[i - 1] - Double(i - 1) * p[i - 2]) / Double(i) }
        }
        return p
    }

    /// Decoded u(t − `delay`) for every t of the input sequence `u` (memory starting at 0).
    public func delayed(_ u: [Float], delay: Double) -> [Float] {
        let q = order
        let decoder = Self.shiftedLegendre(delay / window, count: q)
        var state = [Double](repeating: 0, count: q), next = state
        var out = [Float](repeating: 0, count: u.count)
        for (t, v) in u.enumerated() {
            for i in 0..<q {
                var s = input[i] * Double(v)
                for j in 0..<q { s += transition[i * q + j] * state[j] }
                next[i] = s
            }
            swap(&state, &next)
            out[t] = Float(zip(decoder, state).map(*).reduce(0, +))
        }
        return out
    }
}

extension DelayedSignalTask {
    /// NRMSE of the closed-form Legendre delay line of order q and window θ = `window` (default θ' + 1) on `batches`
    /// fresh batches: √(Σ(û − u(t − θ'))² / Σ(u(t − θ') − mean)²) over the scored positions. Zero-order hold
    /// treats sample u_s as held over (s − 1, s], so the memory is read at θ' + 0.5 steps back, the middle of that
    /// interval (reading at θ' sits on a jump of the staircase and costs about 0.19 NRMSE at the defaults), and
    /// the window must exceed θ' + 0.5 because Legendre polynomials extrapolate badly past r = 1.
    public func legendreNRMSE(order: Int, window: Double? = nil, batches: Int, batchSize: Int, rng: inout RNG) -> Double {
        let line = LegendreDelayLine(order: order, window: window ?? Double(delay + 1))
        var squared = 0.0, sum = 0.0, sumSquares = 0.0, count = 0.0
        for _ in 0..<batches {
            let r = batch(size: batchSize, rng: &rng).regression!
            for b in 0..<batchSize {
                let range = (b * length)..<((b + 1) * length)
                let decoded = line.delayed(Array(r.features[range]), delay: Double(delay) + 0.5)
                for (p, y) in zip(decoded, r.targets[range]) where !y.isNaN {
                    let e = Double(p) - Double(y)
                    squared += e * e; sum += Double(y); sumSquares += Double(y) * Double(y); count += 1
                }
            }
        }
        let mean = sum / max(count, 1)
        return (squared / max(count, 1) / max(sumSquares / max(count, 1) - mean * mean, 1e-30)).squareRoot()
    }
}
