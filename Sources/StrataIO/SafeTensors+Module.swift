import Foundation
import StrataCore
import StrataNN

extension Module {
    /// Saves every parameter (`stateDict()` names and order) as F32 safetensors, atomically.
    public func saveSafeTensors(to url: URL, metadata: [String: String] = [:]) throws {
        try SafeTensorsWriter.write(stateDict(), metadata: metadata, to: url)
    }

    /// Loads parameters from a safetensors file (any dtype, converted to Float32).
    ///
    /// Shapes must always match. With `strict` (the default) every parameter must be in the file and
    /// every tensor in the file must be a parameter; without it, absent parameters keep their values and
    /// extra tensors are ignored. On any mismatch nothing is changed and the error names each key with
    /// both shapes.
    public func loadSafeTensors(from url: URL, strict: Bool = true) throws {
        let file = try SafeTensorsFile(url: url)
        let params = namedParameters()
        var missing: [String] = [], shapes: [SafeTensorsShapeMismatch] = []
        for (name, p) in params {
            guard file.contains(name) else { if strict { missing.append(name) }; continue }
            let stored = try file.info(name).shape
            if stored != p.shape { shapes.append(SafeTensorsShapeMismatch(key: name, expected: p.shape, found: stored)) }
        }
        let known = Set(params.map(\.0))
        let unexpected = strict ? file.names.filter { !known.contains($0) } : []
        guard missing.isEmpty, unexpected.isEmpty, shapes.isEmpty else {
            throw SafeTensorsError(path: url.path, .stateDictMismatch(missing: missing, unexpected: unexpected, shapes: shapes))
        }
        // Only the tensors this module uses are decoded (the file is mapped, not read whole).
        var dict: [String: Tensor] = [:]
        for (name, _) in params where file.contains(name) { dict[name] = try file.tensor(name) }
        try load(stateDict: dict, strict: false)
    }
}
