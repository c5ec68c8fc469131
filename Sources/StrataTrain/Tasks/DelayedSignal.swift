import Foundation
import StrataCore

/// The LMU variant of delayed recall (catalog `delayed_recall` and `lmu` check b; Voelker et al. 2019): the input
/// is a band-limited random signal u(t) and the target at every step is u(t − θ'), scored by NRMSE.
///
/// Signal: over a window of L = T + θ' steps, u is a sum of sinusoids at every DFT frequency k/L with
/// 1 ≤ k ≤ ⌊f_c·L⌋ (f_c = `cutoff` in cycles per step, Nyquist 0.5), with i.i.d. Gaussian cosine and sine
/// amplitudes — that is, white noise passed through an ideal low-pass filter, periodic over the window, with no
/// power at all above f_c and none at DC — scaled to unit RMS over the window. The sequence is the last T
/// steps of the window, so the target at position t is window sample t (the input θ' steps earlier); the first θ'
/// positions would need samples from before the sequence and are not scored (their target is NaN).
public struct DelayedSignalTask: RealValuedTask {
    public let id = "delayed_signal"
    public let summary = "reconstruct a band-limited random signal delayed by θ' steps at every step (NRMSE; LMU check)"
    /// Sequence length T.
    public let length: Int
    /// Delay θ' in steps.
    public let delay: Int
    /// Cutoff frequency f_c in cycles per step.
    public let cutoff: Double
    /// One real input per step.
    public var featureWidth: Int { 1 }
    /// Real-valued, so one dummy token id.
    public let vocabSize = 1
    public var chance: Double { 0 }
    public var scoresSequences: Bool { false }

    init(_ r: inout KnobReader) throws {
        length = try r.int("length", 96, in: 2...1_000_000)
        delay = try r.int("delay", 16, in: 0...(length - 1))
        cutoff = try r.double("cutoff", 0.1, in: 0...0.5)
        guard frequencies >= 1 else {
            throw TaskError("delayed_signal: cutoff=\(cutoff) leaves no frequency k/L ≤ f_c with k ≥ 1 for the window L = length + delay = \(length + delay); raise cutoff to at least \(1.0 / Double(length + delay))")
        }
    }

    public var knobs: [TaskKnob] {
        [TaskKnob("length", "\(length)", "sequence length T (scored positions θ'…T−1)"),
         TaskKnob("delay", "\(delay)", "delay θ' in steps: the target at t is u(t − θ'), 0 ≤ θ' < T"),
         TaskKnob("cutoff", "\(cutoff)", "band limit f_c in cycles per step (≤ 0.5); u has DFT frequencies 1/L…f_c, L = T + θ'")]
    }

    /// Frequencies used: k = 1…⌊f_c·L⌋, capped below the Nyquist bin so every component is a real sinusoid.
    public var frequencies: Int { min(Int((cutoff * Double(length + delay)).rounded(.down)), (length + delay - 1) / 2) }

    /// One window of L = T + θ' samples of the band-limited signal, unit RMS.
    public func window(rng: inout RNG) -> [Float] {
        let l = length + delay
        var u = [Double](repeating: 0, count: l)
        var power = 0.0
        for k in 1...frequencies {
            let a = Double(rng.nextNormal()), b = Double(rng.nextNormal())
            power += (a * a + b * b) / 2   // mean square of a·cos + b·sin over whole periods
            let omega = 2 * Double.pi * Double(k) / Double(l)
            for t in 0..<l { u[t] += a * cos(omega * Double(t)) + b * sin(omega * Double(t)) }
        }
        let scale = 1 / power.squareRoot()
        return u.map { Float($0 * scale) }
    }

    public func batch(size: Int, rng: inout RNG) -> TaskBatch {
        let t = length
        var features = [Float](repeating: 0, count: size * t)
        var targets = [Float](repeating: .nan, count: size * t)
        for b in 0..<size {
            let u = window(rng: &rng)
            for i in 0..<t {
                features[b * t + i] = u[delay + i]
                if i >= delay { targets[b * t + i] = u[i] }   // window sample i = input at position i − θ'
            }
        }
        return TaskBatch(inputs: [Int32](repeating: 0, count: size * t), targets: [Int32](repeating: TaskBatch.ignored, count: size * t),
                         batchSize: size, length: t, vocabSize: vocabSize,
                         regression: RegressionBatch(features: features, width: 1, targets: targets))
    }
}
