import Foundation
import StrataCore
import StrataModels

/// How the next token is chosen from the logits.
public struct SamplingOptions: Sendable, Equatable {
    /// 0 means greedy (argmax).
    public var temperature: Float = 0.8
    /// Keep only the k most likely tokens (0: off).
    public var topK = 0
    /// Keep the smallest set whose probability reaches p (1: off).
    public var topP: Float = 1
    /// Drop tokens less likely than min_p × the top probability (0: off).
    public var minP: Float = 0
    public var seed: UInt64 = 0

    public init(temperature: Float = 0.8, topK: Int = 0, topP: Float = 1, minP: Float = 0, seed: UInt64 = 0) {
        self.temperature = temperature; self.topK = topK; self.topP = topP; self.minP = minP; self.seed = seed
    }
}

/// Picks one token from a logit row with the given options (deterministic for a given RNG state).
public func sampleToken(_ logits: [Float], options: SamplingOptions, rng: inout RNG) -> Int32 {
    guard options.temperature > 0 else {
        return Int32(logits.indices.max { logits[$0] < logits[$1] } ?? 0)
    }
    let maxLogit = logits.max() ?? 0
    let probs = logits.map { Double(exp(($0 - maxLogit) / options.temperature)) }
    var order = probs.indices.sorted { probs[$0] > probs[$1] }
    if options.topK > 0, options.topK < order.count { order = Array(order.prefix(options.topK)) }
    if options.minP > 0, let top = order.first {
        let floor = probs[top] * Double(options.minP)
        order = order.filter { probs[$0] >= floor }
    }
    if options.topP < 1 {
        let total = order.reduce(0.0) { $0 + probs[$1] }
        var kept: [Int] = [], mass = 0.0
        for i in order {
            kept.append(i)
            mass += probs[i] / total
            if mass >= Double(options.topP) { break }
        }
        order = kept
    }
    let total = order.reduce(0.0) { $0 + probs[$1] }
    var u = Double(rng.nextUniform()) * total
    for i in order {
        u -= probs[i]
        if u <= 0 { return Int32(i) }
    }
    return Int32(order.last ?? 0)
}

/// Decodes from `model` with its cache: the prompt is prefilled in one call, then one token per step, each
/// handed to `onToken` as it is produced (for streaming). Stops at `maxTokens` or the context length.
public func generate(_ model: TransformerModel, prompt: [Int32], maxTokens: Int, options: SamplingOptions,
                     onToken: (Int32) -> Void = { _ in }) -> [Int32] {
    // API precondition, not reachable from input: every caller substitutes a newline for an empty prompt.
    precondition(!prompt.isEmpty, "generate needs at least one prompt token")
    let wasTraining = model.isTraining
    model.train(false)
    defer { model.train(wasTraining) }
    var rng = RNG(seed: options.seed)
    let capacity = model.spec.contextLength
    var context = Array(prompt.suffix(capacity))
    var out: [Int32] = []
    return withNoGrad {
        var state = model.makeDecodeState(batch: 1)
        var logits = model.logits(context, batch: 1, length: context.count, state: state)
        while out.count < maxTokens {
            let v = model.spec.vocabSize
            let last = Array(logits.scalars.suffix(v))
            let token = sampleToken(last, options: options, rng: &rng)
            out.append(token)
            onToken(token)
            context.append(token)
            if state.length >= capacity {
                // The context is full: restart the cache on the most recent half of the window.
                // Keep at least one token: at context_length 1, half the capacity is nothing to condition on (and an empty
                // forward traps in the mixers' reshapes).
                context = Array(context.suffix(max(1, capacity / 2)))
                state = model.makeDecodeState(batch: 1)
                logits = model.logits(context, batch: 1, length: context.count, state: state)
            } else {
                logits = model.logits([token], batch: 1, length: 1, state: state)
            }
        }
        return out
    }
}
