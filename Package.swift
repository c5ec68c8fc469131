// swift-tools-version:6.0
import PackageDescription

// Imports go one way: strata (CLI) -> Strata -> StrataNN -> StrataCore -> StrataKernels -> CStrataKernels.
// No target passes unsafe compiler flags: ISA-specific code lives in CStrataKernels behind per-function target
// attributes and is picked at run time from CPU features.
let package = Package(
    name: "Strata",
    products: [
        .library(name: "Strata", targets: ["Strata"]),
        .executable(name: "strata", targets: ["strata"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(name: "CStrataKernels"),
        .target(name: "StrataKernels", dependencies: ["CStrataKernels"]),
        .target(name: "StrataCore", dependencies: ["StrataKernels"]),
        .target(name: "StrataNN", dependencies: ["StrataCore"]),
        .target(name: "Strata", dependencies: ["StrataKernels", "StrataCore", "StrataNN"]),
        .executableTarget(
            name: "strata",
            dependencies: ["Strata", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .testTarget(name: "StrataKernelsTests", dependencies: ["StrataKernels"]),
        .testTarget(name: "StrataCoreTests", dependencies: ["StrataCore"]),
        .testTarget(name: "StrataNNTests", dependencies: ["StrataNN", "StrataCore"]),
    ]
)
