import StrataCore
import StrataModels

/// The steps every Hugging Face importer (BERT, GPT-2, LLaMA) shares: checking a checkpoint's tensor names
/// against the family's name table, and loading the mapped weights only once every problem is collected.
enum HFImportSupport {
    /// "missing tensors: …" for table entries absent from `names`, and "unexpected tensors (not in the
    /// `family` name table): …" for names neither in the table nor `ignored`.
    static func coverageProblems(names: Set<String>, table: [String], family: String,
                                 ignored: (String) -> Bool) -> [String] {
        var problems: [String] = []
        let missing = table.filter { !names.contains($0) }
        if !missing.isEmpty { problems.append("missing tensors: \(missing.joined(separator: ", "))") }
        let known = Set(table)
        let unexpected = names.filter { !known.contains($0) && !ignored($0) }.sorted()
        if !unexpected.isEmpty {
            problems.append("unexpected tensors (not in the \(family) name table): \(unexpected.joined(separator: ", "))")
        }
        return problems
    }

    /// Throws all of `problems` at once (naming `file`); otherwise loads `state` strictly into `model` and
    /// switches it to inference.
    static func finish(_ model: TransformerModel, state: [String: Tensor], problems: [String],
                       file: String) throws -> TransformerModel {
        guard problems.isEmpty else { throw HFImportError(file: file, key: "", problems.joined(separator: "; ")) }
        try model.load(stateDict: state, strict: true)
        model.train(false)
        return model
    }
}
