import Foundation
import XCTest
import StrataCore
import StrataModels
import StrataNN
import StrataTrain

/// The `lmu` token mixer (catalog `lmu`): convolution form vs recurrence vs cached chunks, and its gradients.
final class DelayedSignalLMUTests: XCTestCase {
    private func mixer(order: Int = 6, theta: Float = 8, units: Int = 3, dim: Int = 8, chunk: Int = 64) -> LegendreMemoryMixer {
        var reader = OptionReader(["order": .number(Double(order)), "theta": .number(Double(theta)), "units": .number(Double(units)),
                                   "chunk": .number(Double(chunk))], path: "block.token_mixer")
        let options = LegendreMemoryMixer.Options(&reader)
        var rng = RNG(seed: 3)
        let context = BuildContext(dim: dim, heads: 2, headDim: dim / 2, layer: 0, layers: 1, contextLength: 64, causal: true,
                                   initStd: 0.3)
        return LegendreMemoryMixer(options: options, context: context, rng: &rng)
    }

    private var positional: any PositionalScheme {
        var reader = OptionReader([:], path: "positional")
        var rng = RNG(seed: 1)
        let context = BuildContext(dim: 8, heads: 2, headDim: 4, layer: -1, layers: 1, contextLength: 64, causal: true)
        return NoPositions(options: .init(&reader), context: context, rng: &rng)
    }

    func testConvolutionFormEqualsTheRecurrence() {
        let m = mixer()
        let context = BuildContext(dim: 8, heads: 2, headDim: 4, layer: 0, layers: 1, contextLength: 64, causal: true)
        XCTAssertEqual(m.parameterCount, LegendreMemoryMixer.parameterCount(options: m.options, context: context))
        XCTAssertEqual(m.parameterCount, 8 * 3 + 3 * 6 * 8)
        var rng = RNG(seed: 5)
        let (b, t, u) = (2, 13, 3)
        let inputs = rng.normal([b, t, u])
        let conv = withNoGrad { m.memoryStates(inputs, initial: nil) }.scalars      // [B, T, U, q]
        let q = m.memory.order, values = inputs.scalars
        for batch in 0..<b {
            for unit in 0..<u {
                var state = [Double](repeating: 0, count: q)
                for step in 0..<t {
                    let x = Double(values[(batch * t + step) * u + unit])
                    state = zip(m.memory.apply(state), m.memory.input).map { $0 + $1 * x }
                    for i in 0..<q {
                        let got = Double(conv[((batch * t + step) * u + unit) * q + i])
                        XCTAssertEqual(got, state[i], accuracy: 1e-5 * max(1, abs(state[i])), "b \(batch) t \(step) unit \(unit) i \(i)")
                    }
                }
            }
        }
    }

    func testCachedChunksAndSingleStepsMatchTheFullSequence() {
        let m = mixer()
        var rng = RNG(seed: 6)
        let x = rng.normal([2, 21, 8])
        let full = withNoGrad { m.forward(x, context: MixerContext(positional: positional), cache: nil) }.scalars
        // The chunked training form (chunk 4 and 5 of 21 steps) is the same function.
        for n in [4, 5] {
            let chunked = mixer(chunk: n)
            let y = withNoGrad { chunked.forward(x, context: MixerContext(positional: positional), cache: nil) }.scalars
            XCTAssertLessThan(zip(y, full).map { abs($0 - $1) }.max()!, 1e-5 * max(1, full.map(abs).max()!), "chunk \(n)")
        }
        for chunks in [[21], [1, 1, 1, 18], [7, 1, 13]] {
            let cache = m.makeCache(batch: 2, capacity: 21)
            var parts: [Tensor] = [], start = 0
            for n in chunks {
                parts.append(withNoGrad {
                    m.forward(x.slice(axis: 1, start..<start + n), context: MixerContext(positional: positional, offset: start), cache: cache)
                })
                start += n
            }
            XCTAssertEqual(cache.length, 21)
            let joined = Tensor.concat(parts, axis: 1).scalars
            let gap = zip(joined, full).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(gap, 1e-5 * max(1, full.map(abs).max()!), "chunks \(chunks)")
        }
    }

    func testGradientsMatchFiniteDifferences() throws {
        let m = mixer(order: 4, theta: 6, units: 2, dim: 4, chunk: 4)   // gradients also flow through the chunk carry
        var rng = RNG(seed: 8)
        let x = rng.normal([1, 9, 4])
        let r = rng.normal([1, 9, 4])
        func value() -> Double { Double(withNoGrad { (m.forward(x, context: MixerContext(positional: positional), cache: nil) * r).sum() }.item) }
        m.zeroGrad()
        (m.forward(x, context: MixerContext(positional: positional), cache: nil) * r).sum().backward()
        for p in [m.encode.weight, m.out.weight] {
            let g = try XCTUnwrap(p.grad).scalars, original = p.value
            var values = original.scalars
            for i in stride(from: 0, to: values.count, by: 3) {
                let old = values[i], eps: Float = 1e-2
                values[i] = old + eps; p.assign(Tensor(values, shape: p.shape)); let up = value()
                values[i] = old - eps; p.assign(Tensor(values, shape: p.shape)); let down = value()
                values[i] = old; p.assign(original)
                let numeric = (up - down) / Double(2 * eps)
                XCTAssertEqual(Double(g[i]), numeric, accuracy: 3e-3 * max(1, abs(numeric)))
            }
        }
    }
}
