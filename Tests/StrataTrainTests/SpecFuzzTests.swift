import Foundation
import StrataCore
import StrataTrain
import StrataModels
import XCTest

/// The spec JSON value (StrataIO has a package-level type of the same name).
typealias JSONValue = StrataModels.JSONValue

/// Generated specs, each either rejected by validation with a message or built and run for one training step and a
/// short decode, in child processes (`strata spec check --step`) so that a trap fails the test instead of the suite.
/// Also the spec-side regression cases of issue 18 through the `strata spec check` command.
final class SpecFuzzTests: XCTestCase {
    /// The cases' generator: Strata's own seeded RNG plus the noise level, so the cases are the same on every run.
    struct Gen {
        var rng: RNG
        /// Probability of an edge or wrong value where one can go: low for cases meant to build, high for the rest.
        var noise = 0.1
        init(seed: UInt64) { rng = RNG(seed: seed) }
        mutating func next() -> UInt64 { rng.next() }
        mutating func int(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
        mutating func chance(_ p: Double) -> Bool { Double(next() >> 11) / Double(1 << 53) < p }
        mutating func pick<T>(_ xs: [T]) -> T { xs[int(xs.count)] }
    }

    /// Values of the wrong JSON type, or out of every range.
    static let wrongValues: [JSONValue] = [.string("abc"), .bool(true), .null, .array([]), .object([:]), .number(2.5),
                                           .number(-1), .number(0), .number(1e300), .number(-1e300), .number(1_099_511_627_776)]

    /// A model-level size: usually small and valid, sometimes an edge (0, negative, huge, fractional, wrong type).
    static func size(_ g: inout Gen, _ small: [Int]) -> JSONValue {
        if !g.chance(g.noise) { return .number(Double(g.pick(small))) }
        return g.pick(wrongValues + [.number(65536), .number(4097), .number(Double(1 << 20))])
    }

    /// A value for one documented option, drawn from its default and help text.
    static func optionValue(_ doc: OptionDoc, _ g: inout Gen) -> JSONValue {
        if g.chance(g.noise) { return g.pick(wrongValues) }
        if let r = doc.help.range(of: "(one of: ") {
            let list = doc.help[r.upperBound...].prefix { $0 != ")" }
            let choices = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            if !choices.isEmpty, !g.chance(g.noise) { return .string(g.pick(choices)) }
            return .string("no_such_choice")
        }
        switch doc.defaultValue {
        case "true", "false": return .bool(g.chance(0.5))
        case "null":
            if g.chance(g.noise) { return .number(Double(g.pick([0, 64, 5000, 1 << 20]))) }
            return .number(Double(g.pick([1, 2, 3, 4, 8, 16])))
        default:
            guard let d = Double(doc.defaultValue) else { return .string(doc.defaultValue) }
            if d == d.rounded() {
                if g.chance(g.noise) { return .number(g.pick([0, -1, 4096, 1e7, d * 100])) }
                return .number(g.pick([d, 1, 2, 3, 4, d * 2, d + 1]))
            }
            if g.chance(g.noise) { return .number(g.pick([-0.5, 1e6, 1e30, d * 1000])) }
            return .number(g.pick([d, 0, 1, 0.5, 1e-3, d * 10, 0.999]))
        }
    }

    /// A component of `registry`'s slot: a bare id, or an object with some of its documented options.
    static func component<P>(_ registry: Registry<P>, _ g: inout Gen) -> JSONValue {
        if g.chance(g.noise / 3) { return g.chance(0.5) ? .string("no_such_id") : g.pick(wrongValues) }
        let entry = g.pick(registry.entries)
        if g.chance(0.3) { return .string(entry.info.id) }
        var o: [String: JSONValue] = ["id": .string(entry.info.id)]
        for doc in entry.optionDocs where g.chance(0.35) { o[doc.key] = optionValue(doc, &g) }
        if g.chance(g.noise / 3) { o["no_such_option"] = .number(1) }
        return .object(o)
    }

    /// Block keys (all of them for the default block, some for an override).
    static func blockKeys(_ g: inout Gen, all: Bool) -> [String: JSONValue] {
        var b: [String: JSONValue] = [:]
        if all || g.chance(0.4) { b["norm"] = component(Catalog.norms, &g) }
        if all || g.chance(0.6) { b["token_mixer"] = component(Catalog.tokenMixers, &g) }
        if all || g.chance(0.4) { b["channel_mixer"] = component(Catalog.channelMixers, &g) }
        if all || g.chance(0.3) { b["residual"] = component(Catalog.residuals, &g) }
        if all || g.chance(0.3) {
            b["placement"] = !g.chance(g.noise / 2) ? .string(g.pick(NormPlacement.allCases).rawValue) : .string("sideways")
        }
        if all || g.chance(0.3) { b["layout"] = .string(g.pick(BlockLayout.allCases).rawValue) }
        return b
    }

    /// One generated spec.
    static func spec(_ g: inout Gen) -> JSONValue {
        var s: [String: JSONValue] = [:]
        s["vocab_size"] = size(&g, [2, 3, 16, 64, 256])
        s["context_length"] = size(&g, [1, 1, 2, 3, 5, 8, 16, 32])
        s["dim"] = size(&g, [4, 6, 8, 12, 16, 24, 32])
        s["layers"] = size(&g, [1, 1, 2, 3])
        s["heads"] = size(&g, [1, 2, 3, 4])
        if g.chance(0.25) { s["head_dim"] = size(&g, [2, 3, 4, 8]) }
        if g.chance(0.15) { s["model"] = .string(g.chance(0.9) ? "encoder" : "seq2seq") }
        if g.chance(0.8) { s["positional"] = component(Catalog.positional, &g) }
        s["block"] = .object(blockKeys(&g, all: g.chance(0.7)))
        if g.chance(0.35) {
            var list: [JSONValue] = []
            for _ in 0..<(1 + g.int(2)) {
                var o = blockKeys(&g, all: false)
                if !g.chance(g.noise / 2) {
                    let layers = g.chance(g.noise) ? [0, 1, 2, 5, -1] : [0, 0, 1, 2]
                    o["layers"] = .array((0..<(1 + g.int(2))).map { _ in .number(Double(g.pick(layers))) })
                }
                list.append(!g.chance(g.noise / 3) ? .object(o) : .string("layer 0"))
            }
            s["overrides"] = .array(list)
        }
        if g.chance(0.1) { s["embedding_norm"] = component(Catalog.norms, &g) }
        if g.chance(0.1) { s["final_norm"] = component(Catalog.norms, &g) }
        if g.chance(0.2) { s["tie_embeddings"] = g.chance(0.9) ? .bool(g.chance(0.5)) : .string("yes") }
        if g.chance(0.1) { s["head_bias"] = .bool(true) }
        if g.chance(0.1) { s["dropout"] = .number(g.pick([0, 0.1, 0.5, 1, -0.1])) }
        if g.chance(0.1) { s["z_loss"] = .number(g.pick([0, 1e-4, 2])) }
        if g.chance(0.1) { s["init_std"] = .number(g.pick([0, 0.02, 1, 11])) }
        if g.chance(0.08) { s["type_vocab_size"] = .number(g.pick([0, 2, -1])) }
        if g.chance(0.1) {
            s["encoder"] = .object(["pooling": .string(g.pick(["mean", "cls", "max"])),
                                    "task": .string(g.pick(["classification", "regression", "none"])),
                                    "outputs": .number(Double(g.pick([1, 3, 0])))])
        }
        if g.chance(0.03) { s["no_such_key"] = .number(1) }
        return .object(s)
    }

    /// The outcome of one case.
    enum Outcome: Equatable { case ok, rejected(String), refused, trapped(Int32) }

    /// Runs `strata spec check --step` over `files`, restarting after a crash at the next file; the outcome of each.
    static func runSteps(_ files: [URL], in dir: URL, budgetMB: Int = 64) throws -> [String: Outcome] {
        var outcomes: [String: Outcome] = [:]
        var remaining = files.map(\.lastPathComponent)
        while !remaining.isEmpty {
            let process = Process()
            process.executableURL = try StrataExecutable.url()
            process.arguments = ["spec", "check", "--step", "--step-budget-mb", "\(budgetMB)"] + remaining
            process.currentDirectoryURL = dir
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try process.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            var started: String?
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
                guard line.hasPrefix("step "), let colon = line.range(of: ": ") else { continue }
                let name = String(line[line.index(line.startIndex, offsetBy: 5)..<colon.lowerBound])
                let rest = line[colon.upperBound...]
                if rest == "start" { started = name; continue }
                started = nil
                if rest.hasPrefix("ok") { outcomes[name] = .ok }
                else if rest.hasPrefix("refused") { outcomes[name] = .refused }
                else { outcomes[name] = .rejected(String(rest.dropFirst("rejected ".count))) }
            }
            let crashed = process.terminationReason == .uncaughtSignal || process.terminationStatus != 0
            if let started { outcomes[started] = .trapped(process.terminationStatus) }
            else if crashed, let first = remaining.first(where: { outcomes[$0] == nil }) {
                outcomes[first] = .trapped(process.terminationStatus)   // died before saying which case
            }
            remaining = remaining.filter { outcomes[$0] == nil }
        }
        return outcomes
    }

    func testGeneratedSpecsAreRejectedOrRun() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("strata-spec-fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // STRATA_SPEC_FUZZ_SEED / _CASES explore beyond the fixed default run (seed 18, 600 cases).
        let env = ProcessInfo.processInfo.environment
        var g = Gen(seed: env["STRATA_SPEC_FUZZ_SEED"].flatMap { UInt64($0) } ?? 18)
        let count = env["STRATA_SPEC_FUZZ_CASES"].flatMap { Int($0) } ?? 600
        var files: [URL] = [], texts: [String: String] = [:]
        for i in 0..<count {
            g.noise = i % 2 == 0 ? 0.02 : 0.2      // half the cases lean valid, half are full of edges
            let url = dir.appendingPathComponent(String(format: "case-%05d.json", i))
            let text = SpecFuzzTests.spec(&g).jsonText(pretty: false)
            try text.write(to: url, atomically: true, encoding: .utf8)
            files.append(url)
            texts[url.lastPathComponent] = text
        }
        let start = Date()
        let outcomes = try SpecFuzzTests.runSteps(files, in: dir)
        var built = 0, rejected = 0, refused = 0, messages = Set<String>(), shapes = Set<String>()
        for (name, outcome) in outcomes.sorted(by: { $0.key < $1.key }) {
            switch outcome {
            case .ok: built += 1
            case .refused: refused += 1
            case .rejected(let m):
                rejected += 1
                XCTAssertFalse(m.isEmpty, "\(name) was rejected without a message")
                for issue in m.components(separatedBy: " | ") {
                    messages.insert(issue)
                    // The message with its numbers and quoted values blanked: how many kinds of error were seen.
                    shapes.insert(issue.replacingOccurrences(of: "-?[0-9][0-9.e+]*", with: "#", options: .regularExpression)
                        .replacingOccurrences(of: "\"[^\"]*\"", with: "\"…\"", options: .regularExpression))
                }
            case .trapped(let status):
                XCTFail("\(name) trapped (exit \(status)): \(texts[name] ?? "")")
            }
        }
        XCTAssertEqual(outcomes.count, files.count)
        XCTAssertGreaterThan(built, 100, "too few generated specs were valid to exercise building")
        XCTAssertGreaterThan(rejected, 100, "too few generated specs were invalid to exercise validation")
        print("spec fuzz: \(files.count) cases, \(rejected) rejected, \(built) built and stepped, \(refused) refused by the memory estimate, "
              + "\(messages.count) distinct error messages (\(shapes.count) kinds), \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
    }

    // MARK: - Regression cases of issue 18 through `strata spec check`

    static let softmaxFamily = ["softmax_attention", "sliding_window_attention", "sigmoid_attention", "clipped_softmax",
                                "gated_attention", "power_softmax", "topk_attention"]

    func withSpecs(_ specs: [String: String], _ body: (URL) throws -> Void) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("strata-spec-check-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for (name, text) in specs { try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        try body(dir)
    }

    func testKVHeadsOfEverySoftmaxMixerAreRejectedFromASpecAndFromSet() throws {
        var specs: [String: String] = [:]
        for id in SpecFuzzTests.softmaxFamily {
            specs["\(id)-2.json"] = #"{"dim": 96, "heads": 3, "block": {"token_mixer": {"id": "\#(id)", "kv_heads": 2}}}"#
            specs["\(id)-4.json"] = #"{"dim": 96, "heads": 3, "block": {"token_mixer": {"id": "\#(id)", "kv_heads": 4}}}"#
        }
        try withSpecs(specs) { dir in
            for id in SpecFuzzTests.softmaxFamily {
                let out = try StrataExecutable.run(["spec", "check", "\(id)-2.json", "\(id)-4.json"], in: dir, expect: 1)
                XCTAssertTrue(out.contains("block.token_mixer.kv_heads: heads (3) must be a multiple of kv_heads (2)"), out)
                XCTAssertTrue(out.contains("block.token_mixer.kv_heads: 4 key/value heads exceed the model's 3 query heads"), out)
                let set = try StrataExecutable.run(["spec", "check", "default", "--set", "block.token_mixer.id=\(id)",
                                                    "--set", "block.token_mixer.kv_heads=3"], in: dir, expect: 1)
                XCTAssertTrue(set.contains("block.token_mixer.kv_heads: heads (4) must be a multiple of kv_heads (3)"), set)
            }
            // The trainer's path (a spec that reached the model constructor trapped before): a clear error, exit 1.
            let train = try StrataExecutable.run(["train", "softmax_attention-2.json", "--steps", "1", "--runs", dir.path],
                                                 in: dir, expect: 1)
            XCTAssertTrue(train.contains("kv_heads"), train)
        }
    }

    func testModelSizesGiveOneClearError() throws {
        try withSpecs(["h0.json": #"{"heads": 0}"#, "l0.json": #"{"layers": 0}"#]) { dir in
            let heads = try StrataExecutable.run(["spec", "check", "h0.json"], in: dir, expect: 1)
            XCTAssertTrue(heads.contains("(1 problem)") && heads.contains("heads: 0 is out of range"), heads)
            XCTAssertFalse(heads.contains("divisible"), heads)
            let layers = try StrataExecutable.run(["spec", "check", "l0.json"], in: dir, expect: 1)
            XCTAssertTrue(layers.contains("layers: 0 is out of range 1...4096 (at least 1)"), layers)
            let set = try StrataExecutable.run(["spec", "check", "default", "--set", "layers=0"], in: dir, expect: 1)
            XCTAssertTrue(set.contains("layers: 0 is out of range"), set)
        }
    }

    func testContextLengthOneWithALinearMixerBuildsStepsAndDecodes() throws {
        var specs: [String: String] = [:]
        for e in Catalog.tokenMixers.entries {
            specs["\(e.info.id).json"] = #"{"context_length": 1, "dim": 16, "heads": 2, "layers": 1, "block": {"token_mixer": "\#(e.info.id)"}}"#
        }
        try withSpecs(specs) { dir in
            let outcomes = try SpecFuzzTests.runSteps(specs.keys.sorted().map { dir.appendingPathComponent($0) }, in: dir)
            for (name, outcome) in outcomes { XCTAssertEqual(outcome, .ok, name) }
        }
    }

    func testHugeWidthIsRefusedByTheMemoryEstimate() throws {
        try withSpecs(["big.json": #"{"dim": 65536, "heads": 4}"#]) { dir in
            let out = try StrataExecutable.run(["spec", "check", "big.json"], in: dir, expect: 1)
            XCTAssertTrue(out.contains("big.json: valid") && out.contains("DOES NOT FIT") && out.contains(" GB"), out)
            let batch = try StrataExecutable.run(["spec", "check", "default", "--batch", "100000"], in: dir, expect: 1)
            XCTAssertTrue(batch.contains("DOES NOT FIT"), batch)
            let json = try StrataExecutable.run(["spec", "check", "default", "big.json", "--json"], in: dir, expect: 1)
            let reports = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
            XCTAssertEqual(reports.count, 2)
            XCTAssertEqual(reports[0]["fits"] as? Bool, true)
            XCTAssertEqual(reports[1]["fits"] as? Bool, false)
            XCTAssertEqual(reports[0]["parameters"] as? Int, Presets.mainJob.expectedParameterCount)
            let step = try SpecFuzzTests.runSteps([dir.appendingPathComponent("big.json")], in: dir)
            XCTAssertEqual(step["big.json"], .refused)
        }
    }

    func testValidSpecsExitZero() throws {
        try withSpecs([:]) { dir in
            let out = try StrataExecutable.run(["spec", "check", "default", "bench-char"], in: dir, expect: 0)
            XCTAssertTrue(out.contains("default: valid") && out.contains("bench-char: valid") && out.contains("\"rms_norm\""), out)
        }
    }
}
