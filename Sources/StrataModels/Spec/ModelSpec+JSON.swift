import Foundation

extension ModelSpec: Codable {
    /// Reads a spec from JSON, collecting every structural problem (unknown keys, wrong types, bad enum
    /// values). Catalog ids and component options are checked by `validate()`.
    public static func read(_ json: JSONValue) -> (ModelSpec, [SpecIssue]) {
        var spec = ModelSpec()
        guard case .object(let top) = json else {
            return (spec, [SpecIssue(path: "", message: "a spec must be a JSON object, got \(json.typeName)")])
        }
        var r = OptionReader(top, path: "")
        let d = ModelSpec()
        if let n = r.nested("name", "a label for runs and reports") {
            if let s = n.stringValue { spec.name = s } else { r.fail("name", "expected a string, got \(n.typeName)") }
        }
        // `choice` returns one of the listed raw values (the default on a bad one), so the unwraps below cannot fail.
        spec.model = ModelKind(rawValue: r.choice("model", default: d.model.rawValue, among: ModelKind.allCases.map(\.rawValue),
                                                  "causal LM or bidirectional encoder"))!
        spec.vocabSize = r.int("vocab_size", default: d.vocabSize, "vocabulary size V", in: 2...1 << 24)
        spec.contextLength = r.int("context_length", default: d.contextLength, "longest sequence T", in: 1...1 << 20)
        spec.dim = r.int("dim", default: d.dim, "model width C", in: 1...1 << 16)
        spec.layers = r.int("layers", default: d.layers, "number of blocks L", in: 1...4096)
        spec.heads = r.int("heads", default: d.heads, "query heads H", in: 1...4096)
        spec.headDim = r.optionalInt("head_dim", "head width D (default dim / heads)", in: 1...1 << 14)
        var issues: [SpecIssue] = []
        if let v = r.nested("positional", "positional scheme (catalog slot positional)"),
           let c = ComponentSpec.read(v, path: "positional", issues: &issues) { spec.positional = c }
        if let v = r.nested("block", "the default block") { spec.block = readBlock(v, path: "block", issues: &issues) }
        if let v = r.nested("overrides", "per-layer block overrides: [{\"layers\": [..], <block keys>}]") {
            if case .array(let a) = v {
                spec.overrides = a.enumerated().compactMap { readOverride($1, path: "overrides.\($0)", issues: &issues) }
            } else {
                r.fail("overrides", "expected an array, got \(v.typeName)")
            }
        }
        if let v = r.nested("embedding_norm", "norm on the embedding output (default: none; the block norm under peri)") {
            spec.embeddingNorm = ComponentSpec.read(v, path: "embedding_norm", issues: &issues)
        }
        if let v = r.nested("final_norm", "norm before the head (default: the block norm; none under post)") {
            spec.finalNorm = ComponentSpec.read(v, path: "final_norm", issues: &issues)
        }
        spec.tieEmbeddings = r.bool("tie_embeddings", default: d.tieEmbeddings, "share the token embedding with the output head")
        spec.headBias = r.bool("head_bias", default: d.headBias, "bias on the untied decoder head (needs tie_embeddings false)")
        spec.initStd = r.float("init_std", default: d.initStd, "std of normal weight init", in: 0...10)
        spec.dropout = r.float("dropout", default: d.dropout, "dropout on embeddings and sublayer outputs", in: 0...0.99)
        spec.zLoss = r.float("z_loss", default: d.zLoss, "coefficient of the logit z-loss c·(log Z)²", in: 0...1)
        if let v = r.nested("encoder", "encoder pooling and head") { spec.encoder = readEncoder(v, issues: &issues) }
        spec.typeVocabSize = r.int("type_vocab_size", default: d.typeVocabSize, "token-type (segment) embedding rows of an encoder (0: none)",
                                   in: 0...1 << 16)
        r.finish()
        return (spec, r.issues + issues)
    }

    private static func readBlockKeys(_ r: inout OptionReader, path: String, into apply: (String, Any) -> Void,
                                      issues: inout [SpecIssue]) {
        for (key, help) in [("norm", "norm kind"), ("token_mixer", "token mixer"), ("channel_mixer", "channel mixer"),
                            ("residual", "residual scheme")] {
            if let v = r.nested(key, help), let c = ComponentSpec.read(v, path: joinPath(path, key), issues: &issues) {
                apply(key, c)
            }
        }
        if r.nested("placement", "") != nil {
            let p = r.choice("placement", default: "pre", among: NormPlacement.allCases.map(\.rawValue), "norm placement")
            apply("placement", NormPlacement(rawValue: p)!)
        }
        if r.nested("layout", "") != nil {
            let l = r.choice("layout", default: "sequential", among: BlockLayout.allCases.map(\.rawValue), "sublayer order")
            apply("layout", BlockLayout(rawValue: l)!)
        }
    }

    private static func readBlock(_ v: JSONValue, path: String, issues: inout [SpecIssue]) -> BlockSpec {
        var block = BlockSpec()
        guard case .object(let o) = v else {
            issues.append(SpecIssue(path: path, message: "expected an object, got \(v.typeName)")); return block
        }
        var r = OptionReader(o, path: path)
        // `readBlockKeys` hands each key the type it read (a ComponentSpec, NormPlacement or BlockLayout).
        readBlockKeys(&r, path: path, into: { key, value in
            switch key {
            case "norm": block.norm = value as! ComponentSpec
            case "token_mixer": block.tokenMixer = value as! ComponentSpec
            case "channel_mixer": block.channelMixer = value as! ComponentSpec
            case "residual": block.residual = value as! ComponentSpec
            case "placement": block.placement = value as! NormPlacement
            default: block.layout = value as! BlockLayout
            }
        }, issues: &issues)
        r.finish()
        issues += r.issues
        return block
    }

    private static func readOverride(_ v: JSONValue, path: String, issues: inout [SpecIssue]) -> LayerOverride? {
        guard case .object(let o) = v else {
            issues.append(SpecIssue(path: path, message: "expected an object, got \(v.typeName)")); return nil
        }
        var r = OptionReader(o, path: path)
        var ov = LayerOverride(layers: r.intList("layers", default: [], "0-based layer indices"))
        if o["layers"] == nil { r.fail("layers", "missing: an override needs the layers it applies to") }
        readBlockKeys(&r, path: path, into: { key, value in
            switch key {
            case "norm": ov.norm = value as? ComponentSpec
            case "token_mixer": ov.tokenMixer = value as? ComponentSpec
            case "channel_mixer": ov.channelMixer = value as? ComponentSpec
            case "residual": ov.residual = value as? ComponentSpec
            case "placement": ov.placement = value as? NormPlacement
            default: ov.layout = value as? BlockLayout
            }
        }, issues: &issues)
        r.finish()
        issues += r.issues
        return ov
    }

    private static func readEncoder(_ v: JSONValue, issues: inout [SpecIssue]) -> EncoderHeadSpec {
        var e = EncoderHeadSpec()
        guard case .object(let o) = v else {
            issues.append(SpecIssue(path: "encoder", message: "expected an object, got \(v.typeName)")); return e
        }
        var r = OptionReader(o, path: "encoder")
        e.pooling = r.choice("pooling", default: e.pooling, among: ["mean", "cls"], "how token states become one vector")
        e.task = r.choice("task", default: e.task, among: ["classification", "regression", "none"], "head on the pooled vector")
        e.outputs = r.int("outputs", default: e.outputs, "classes or regression targets", in: 1...1 << 20)
        r.finish()
        issues += r.issues
        return e
    }

    /// The spec as JSON (every field, defaults included, so a saved spec does not depend on future defaults).
    public var json: JSONValue {
        func blockJSON(_ b: BlockSpec) -> [String: JSONValue] {
            ["placement": .string(b.placement.rawValue), "norm": b.norm.json, "token_mixer": b.tokenMixer.json,
             "channel_mixer": b.channelMixer.json, "residual": b.residual.json, "layout": .string(b.layout.rawValue)]
        }
        var o: [String: JSONValue] = [
            "name": .string(name), "model": .string(model.rawValue), "vocab_size": .number(Double(vocabSize)),
            "context_length": .number(Double(contextLength)), "dim": .number(Double(dim)),
            "layers": .number(Double(layers)), "heads": .number(Double(heads)), "positional": positional.json,
            "block": .object(blockJSON(block)), "tie_embeddings": .bool(tieEmbeddings),
            "init_std": .number(Double(initStd)), "dropout": .number(Double(dropout)), "z_loss": .number(Double(zLoss)),
        ]
        if let headDim { o["head_dim"] = .number(Double(headDim)) }
        if headBias { o["head_bias"] = .bool(true) }   // written only when set, so existing specs keep their JSON
        if typeVocabSize > 0 { o["type_vocab_size"] = .number(Double(typeVocabSize)) }   // likewise
        if let embeddingNorm { o["embedding_norm"] = embeddingNorm.json }
        if let finalNorm { o["final_norm"] = finalNorm.json }
        if !overrides.isEmpty {
            o["overrides"] = .array(overrides.map { ov in
                var e: [String: JSONValue] = ["layers": .array(ov.layers.map { .number(Double($0)) })]
                if let p = ov.placement { e["placement"] = .string(p.rawValue) }
                if let n = ov.norm { e["norm"] = n.json }
                if let m = ov.tokenMixer { e["token_mixer"] = m.json }
                if let c = ov.channelMixer { e["channel_mixer"] = c.json }
                if let r = ov.residual { e["residual"] = r.json }
                if let l = ov.layout { e["layout"] = .string(l.rawValue) }
                return .object(e)
            })
        }
        if model == .encoder {
            o["encoder"] = .object(["pooling": .string(encoder.pooling), "task": .string(encoder.task),
                                    "outputs": .number(Double(encoder.outputs))])
        }
        return .object(o)
    }

    public init(from decoder: Decoder) throws {
        let (spec, issues) = ModelSpec.read(try JSONValue(from: decoder))
        guard issues.isEmpty else { throw SpecError(issues) }
        self = spec
    }

    public func encode(to encoder: Encoder) throws { try json.encode(to: encoder) }

    /// Parses JSON text and validates it, reporting every problem at once (`file` names the source in errors).
    public static func parse(_ data: Data, file: String? = nil, overrides: [(String, String)] = []) throws -> ModelSpec {
        var json: JSONValue
        do { json = try JSONValue.parse(data) } catch {
            throw SpecError([SpecIssue(path: "", message: ModelSpec.syntaxMessage(data))], file: file)
        }
        if !overrides.isEmpty, case .object = json { json = json.fillingDefaults(from: ModelSpec().json) }
        for (path, value) in overrides {
            do { json = try json.setting(path.split(separator: ".").map(String.init), to: JSONValue.parseLoose(value)) }
            catch let e as SpecError { throw SpecError(e.issues.map { SpecIssue(path: "--set \(path)", message: $0.description) }, file: file) }
        }
        let (spec, issues) = read(json)
        let all = issues + spec.validate(unreadable: Set(issues.map { $0.path.split(separator: ".").first.map(String.init) ?? "" }))
        guard all.isEmpty else { throw SpecError(all, file: file) }
        return spec
    }

    /// Where JSON text stops parsing, as a line and column: the decoder does not say, JSONSerialization names the
    /// character offset ("around character 27"), which is turned into a position a user can find.
    static func syntaxMessage(_ data: Data) -> String {
        if data.allSatisfy({ [0x20, 0x0A, 0x0D, 0x09].contains($0) }) { return "not valid JSON: the file is empty" }
        guard String(data: data, encoding: .utf8) != nil else { return "not valid JSON: the file is not UTF-8 text" }
        do { _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
            let text = (error as NSError).userInfo["NSDebugDescription"] as? String ?? "\(error)"
            if let r = text.range(of: "character "), let offset = Int(text[r.upperBound...].prefix { $0.isNumber }) {
                let head = data.prefix(max(0, offset))
                let line = head.filter { $0 == 0x0A }.count + 1
                let column = head.count - (head.lastIndex(of: 0x0A).map { $0 - head.startIndex + 1 } ?? 0) + 1
                return "not valid JSON at line \(line), column \(column): \(text)"
            }
            return "not valid JSON: \(text)"
        }
        return "not valid JSON"
    }

    /// Loads and validates a spec file; `overrides` are `key.path=value` settings applied first.
    public static func load(_ url: URL, overrides: [(String, String)] = []) throws -> ModelSpec {
        let data: Data
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw SpecError([SpecIssue(path: "", message: "is a directory, not a spec file")], file: url.path)
        }
        do { data = try Data(contentsOf: url) } catch {
            let reason = (error as NSError).code == CocoaError.fileReadNoPermission.rawValue ? "permission denied"
                : (error as NSError).code == CocoaError.fileReadNoSuchFile.rawValue ? "no such file" : error.localizedDescription
            throw SpecError([SpecIssue(path: "", message: "cannot read the file (\(reason))")], file: url.path)
        }
        return try parse(data, file: url.path, overrides: overrides)
    }
}

extension JSONValue {
    /// This value with missing object members taken from `defaults`, recursively; a component whose id differs
    /// from the default's keeps only its own options.
    func fillingDefaults(from defaults: JSONValue) -> JSONValue {
        switch (self, defaults) {
        case (.object(var o), .object(let d)):
            if let id = o["id"], let did = d["id"], id != did { return self }
            for (key, dv) in d { o[key] = o[key].map { $0.fillingDefaults(from: dv) } ?? dv }
            return .object(o)
        case (.string(let id), .object(let d)) where d["id"] != nil:
            return d["id"] == .string(id) ? defaults : self
        case (.string(let id), .string(let did)) where id == did:
            return self
        default:
            return self
        }
    }
}
