@_exported import StrataKernels
@_exported import StrataCore
@_exported import StrataNN

/// Version of the Strata library and tool.
public enum StrataVersion {
    /// Semantic version string.
    public static let current = "0.1.0"
}
