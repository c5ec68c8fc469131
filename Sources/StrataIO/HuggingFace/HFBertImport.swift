import Foundation
import StrataCore
import StrataModels
import StrataNN

/// One Strata parameter and the Hugging Face tensors it is built from.
public struct HFTensorMapping: Equatable, Sendable {
    /// How the source tensors become the Strata tensor.
    public enum Combine: Equatable, Sendable {
        /// The single source tensor as is.
        case copy
        /// Sources stacked along rows (q, k, v → the fused qkv projection [3·C, C] or bias [3·C]).
        case concatRows
        /// Rows from this index on (RoBERTa's position table, whose first padding_idx + 1 rows no token reads).
        case rowsFrom(Int)
    }

    /// Strata state-dict name.
    public var strata: String
    /// Hugging Face tensor names (without a `bert.` / `roberta.` prefix), in order.
    public var sources: [String]
    /// The combination rule.
    public var combine: Combine
}

/// Imports BERT-family encoders (BERT, RoBERTa, XLM-R: config.json + model.safetensors) into a `TransformerModel`
/// through one name table.
public enum HFBertImport {
    /// HF tensors that are known and deliberately not imported: buffers and the unused NSP/pooler head.
    public static func isIgnored(_ name: String) -> Bool {
        name == "embeddings.position_ids" || name == "embeddings.token_type_ids" || name.hasPrefix("pooler.")
            || name.hasPrefix("cls.")
    }

    /// The name table for `layers` blocks: every Strata parameter of the encoder and its HF sources. Position
    /// row p of Strata is HF row p + `positionOffset` (0 for BERT, padding_idx + 1 for RoBERTa).
    public static func nameTable(layers: Int, positionOffset: Int = 0) -> [HFTensorMapping] {
        var table: [HFTensorMapping] = [
            .init(strata: "tokenEmbedding.weight", sources: ["embeddings.word_embeddings.weight"], combine: .copy),
            .init(strata: "positional.weight", sources: ["embeddings.position_embeddings.weight"],
                  combine: positionOffset == 0 ? .copy : .rowsFrom(positionOffset)),
            .init(strata: "tokenTypeEmbedding.weight", sources: ["embeddings.token_type_embeddings.weight"], combine: .copy),
            .init(strata: "embeddingNorm.weight", sources: ["embeddings.LayerNorm.weight"], combine: .copy),
            .init(strata: "embeddingNorm.bias", sources: ["embeddings.LayerNorm.bias"], combine: .copy),
        ]
        for i in 0..<layers {
            let hf = "encoder.layer.\(i).", st = "blocks.\(i)."
            for p in ["weight", "bias"] {
                table += [
                    .init(strata: st + "mixer.qkv.\(p)", sources: ["query", "key", "value"].map { hf + "attention.self.\($0).\(p)" },
                          combine: .concatRows),
                    .init(strata: st + "mixer.out.\(p)", sources: [hf + "attention.output.dense.\(p)"], combine: .copy),
                    .init(strata: st + "mixerSite.inputNorm.\(p)", sources: [hf + "attention.output.LayerNorm.\(p)"], combine: .copy),
                    .init(strata: st + "channel.up.\(p)", sources: [hf + "intermediate.dense.\(p)"], combine: .copy),
                    .init(strata: st + "channel.down.\(p)", sources: [hf + "output.dense.\(p)"], combine: .copy),
                    .init(strata: st + "channelSite.inputNorm.\(p)", sources: [hf + "output.LayerNorm.\(p)"], combine: .copy),
                ]
            }
        }
        return table
    }

    /// Loads `config.json` and `model.safetensors` from `directory`.
    public static func load(directory: URL) throws -> TransformerModel {
        let config = try HFBertConfig.load(from: directory.appendingPathComponent("config.json"))
        let weights = directory.appendingPathComponent("model.safetensors")
        guard FileManager.default.fileExists(atPath: weights.path) else {
            throw HFImportError(file: weights.path, key: "", "missing: the model directory needs model.safetensors (PyTorch .bin files are not read)")
        }
        return try load(config: config, spec: config.spec, weights: SafeTensorsFile(url: weights))
    }

    /// Builds `spec` and fills it from `weights` through the name table; every missing or unexpected HF tensor and
    /// every shape mismatch is reported at once.
    public static func load(config: HFBertConfig, spec: ModelSpec, weights: SafeTensorsFile) throws -> TransformerModel {
        let file = weights.url.path
        let model = try TransformerModel(spec: spec)
        let expected = Dictionary(model.stateDict().map { ($0.0, $0.1.shape) }, uniquingKeysWith: { a, _ in a })
        // Checkpoints saved from BertForX / RobertaForX carry a "bert." / "roberta." prefix; strip it once so the
        // table stays prefix-free.
        let prefix = config.weightPrefix
        var byName: [String: String] = [:]
        for n in weights.names { byName[n.hasPrefix(prefix) ? String(n.dropFirst(prefix.count)) : n] = n }
        let table = nameTable(layers: config.layers, positionOffset: config.positionOffset)
        var problems = HFImportSupport.coverageProblems(names: Set(byName.keys), table: table.flatMap(\.sources),
                                                        family: "BERT", ignored: isIgnored)
        guard problems.isEmpty else { throw HFImportError(file: file, key: "", problems.joined(separator: "; ")) }
        var state: [String: Tensor] = [:]
        for m in table {
            let sources = try m.sources.map { try weights.tensor(byName[$0]!) }
            let value: Tensor
            switch m.combine {
            case .copy: value = sources[0]
            case .concatRows: value = Tensor.concat(sources, axis: 0)
            case .rowsFrom(let first):
                guard sources[0].rank == 2, sources[0].shape[0] > first else {
                    problems.append("\(m.sources[0]) has shape \(sources[0].shape), expected more than \(first) rows (max_position_embeddings)")
                    continue
                }
                value = sources[0].slice(axis: 0, first..<sources[0].shape[0])
            }
            guard let shape = expected[m.strata] else {
                problems.append("\(m.strata) (from \(m.sources.joined(separator: " + "))) is not a parameter of the built model")
                continue
            }
            if value.shape != shape {
                let found = m.sources.map { "\($0) \(try! weights.info(byName[$0]!).shape)" }.joined(separator: ", ")
                problems.append("\(found) give \(m.strata) shape \(value.shape), expected \(shape) (config.json disagrees with the weights?)")
                continue
            }
            state[m.strata] = value
        }
        return try HFImportSupport.finish(model, state: state, problems: problems, file: file)
    }
}
