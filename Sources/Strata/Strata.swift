@_exported import StrataKernels
@_exported import StrataCore
@_exported import StrataNN
@_exported import StrataModels
@_exported import StrataIO
@_exported import StrataTrain
@_exported import StrataReport

/// Version of the Strata library and tool.
public enum StrataVersion {
    /// Semantic version string.
    public static let current = "0.1.0"
}
