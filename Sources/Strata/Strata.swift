@_exported import StrataKernels
@_exported import StrataCore
@_exported import StrataNN
