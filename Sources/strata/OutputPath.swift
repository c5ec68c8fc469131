import ArgumentParser
import Foundation

/// Checks on where a command is about to write, so that nothing a user has is replaced by accident.
enum OutputPath {
    /// An output directory must be absent, empty, or allowed with `--force`; never a file.
    static func checkDirectory(_ url: URL, flag: String, force: Bool) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else { return }
        guard isDirectory.boolValue else {
            throw CLIError("\(flag) \(url.path) is an existing file; give a directory (it is created if needed)")
        }
        let contents = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        if !contents.isEmpty && !force {
            throw CLIError("\(flag) \(url.path) is not empty (\(contents.count) entries); give a new or empty directory, "
                           + "or pass --force to replace the files this command writes there")
        }
    }

    /// An output file must not exist unless `force`, must not be a directory, and must never be one of the files
    /// of `source` (the input directory the command reads: writing there would destroy the input).
    static func checkFile(_ url: URL, flag: String, force: Bool, notInside source: URL? = nil) throws {
        let target = url.standardizedFileURL.resolvingSymlinksInPath()
        if let source {
            let dir = source.standardizedFileURL.resolvingSymlinksInPath()
            if target.deletingLastPathComponent().path == dir.path,
               FileManager.default.fileExists(atPath: target.path) {
                throw CLIError("\(flag) \(url.path) is a file of the input directory \(source.path); writing it would "
                               + "destroy the input. Write the checkpoint somewhere else")
            }
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: target.path, isDirectory: &isDirectory) else { return }
        if isDirectory.boolValue { throw CLIError("\(flag) \(url.path) is a directory; give a file name (e.g. model.safetensors)") }
        if !force { throw CLIError("\(flag) \(url.path) exists; pass --force to replace it") }
    }
}
