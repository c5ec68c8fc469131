import Foundation

/// Why reading or writing `path` failed, in words: Foundation's own errors print as `NSCocoaErrorDomain error 256`,
/// which names neither the file nor the cause. The path itself is checked for the usual causes first.
public func fileErrorReason(_ error: Error, path: String) -> String {
    var isDirectory: ObjCBool = false
    let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
    if !exists { return "no such file or directory" }
    if isDirectory.boolValue { return "is a directory; a file was expected" }
    if !FileManager.default.isReadableFile(atPath: path) { return "permission denied (not readable)" }
    let ns = error as NSError
    guard ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain else { return "\(error)" }
    switch ns.code {
    case CocoaError.fileReadCorruptFile.rawValue, CocoaError.fileReadInapplicableStringEncoding.rawValue:
        return "not readable as the expected kind of file (wrong format or encoding)"
    case CocoaError.fileWriteNoPermission.rawValue, CocoaError.fileWriteVolumeReadOnly.rawValue:
        return "cannot be written (permission denied or read-only volume)"
    case CocoaError.fileWriteOutOfSpace.rawValue:
        return "the disk is full"
    default:
        return "cannot be read or written (\(ns.domain) \(ns.code))"
    }
}

/// The path a Foundation file error names, when it names one.
public func fileErrorPath(_ error: Error) -> String? {
    if let cocoa = error as? CocoaError { return cocoa.filePath ?? cocoa.url?.path }
    let ns = error as NSError
    guard ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain else { return nil }
    return (ns.userInfo[NSFilePathErrorKey] as? String) ?? (ns.userInfo[NSURLErrorKey] as? URL)?.path
}

/// True for Foundation's own file errors (as opposed to Swift errors bridged with their type name as the domain).
public func isFoundationFileError(_ error: Error) -> Bool {
    if error is CocoaError { return true }
    let ns = error as NSError
    return ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain
}
