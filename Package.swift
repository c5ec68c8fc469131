// swift-tools-version:6.0
import PackageDescription

// Imports go one way (top depends on bottom):
//   strata (CLI) -> Strata (umbrella) -> StrataReport -> StrataTrain -> StrataIO -> StrataModels
//   -> StrataNN -> StrataCore -> StrataKernels -> CStrataKernels.
// No target passes unchecked compiler flags: ISA-specific code lives in CStrataKernels behind
// per-function target attributes and is picked at run time from CPU features.
let package = Package(
    name: "Strata",
    products: [
        .library(name: "Strata", targets: ["Strata"]),
        .executable(name: "strata", targets: ["strata"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
    ],
    targets: [
        .target(name: "CStrataKernels"),
        .target(name: "StrataKernels", dependencies: ["CStrataKernels"]),
        .target(name: "StrataCore", dependencies: ["StrataKernels"]),
        .target(name: "StrataNN", dependencies: ["StrataCore"]),
        .target(name: "StrataModels", dependencies: ["StrataNN", "StrataCore"]),
        .target(name: "StrataIO", dependencies: ["StrataModels", "StrataNN", "StrataCore"]),
        .target(
            name: "StrataTrain",
            dependencies: ["StrataIO", "StrataModels", "StrataNN", "StrataCore",
                           .product(name: "GRDB", package: "GRDB.swift")]),
        .target(name: "StrataReport", dependencies: ["StrataTrain", "StrataModels", "StrataCore"]),
        .target(
            name: "Strata",
            dependencies: ["StrataKernels", "StrataCore", "StrataNN", "StrataModels", "StrataIO", "StrataTrain",
                           "StrataReport"]),
        .executableTarget(
            name: "strata",
            dependencies: ["Strata", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .testTarget(name: "StrataKernelsTests", dependencies: ["StrataKernels"]),
        .testTarget(name: "StrataCoreTests", dependencies: ["StrataCore"]),
        .testTarget(name: "StrataNNTests", dependencies: ["StrataNN", "StrataCore"]),
        .testTarget(name: "StrataModelsTests", dependencies: ["StrataModels", "StrataIO", "StrataNN", "StrataCore"]),
        .testTarget(name: "StrataIOTests", dependencies: ["StrataIO", "StrataModels", "StrataNN", "StrataCore"]),
        .testTarget(name: "StrataTrainTests", dependencies: ["StrataTrain", "StrataModels", "StrataIO", "StrataNN", "StrataCore",
                                                         .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "StrataReportTests", dependencies: ["StrataReport", "StrataTrain"]),
    ]
)
