// One-off check for bench/mqar_torch.py: builds configs/tasks/mqar-<mixer>.json as `strata tasks run mqar`
// does (vocabulary 128, T 64, seed 1), writes its initial weights (safetensors) and its logits on the first
// held-out MQAR batch (16 × 64 × 128 float32, raw), and the first two training batches and the first test
// batch as text (to check that the Python generator is Strata's, bit for bit). Not part of the package: link
// it against the objects of a release build,
//
//   swift build -c release && R=.build/release
//   swiftc -O -I $R/Modules -Xcc -fmodule-map-file=$R/CStrataKernels.build/module.modulemap \
//     -Xcc -fmodule-map-file=.build/checkouts/GRDB.swift/Sources/GRDBSQLite/module.modulemap \
//     -Xcc -ISources/CStrataKernels/include bench/mqar_strata_dump.swift \
//     $(ls $R/{StrataCore,StrataTrain,StrataNN,StrataModels,StrataKernels,CStrataKernels,StrataIO,GRDB}.build/*.o) \
//     -lsqlite3 -o /tmp/mqar_dump
//   INIT_STD=0.3 /tmp/mqar_dump /tmp/mqar gla mamba2 softmax_attention
//   /work/venv-torch/bin/python bench/mqar_torch.py --mixer gla --strata-weights /tmp/mqar/gla.safetensors \
//     --strata-logits /tmp/mqar/gla.logits.f32
//
// INIT_STD (default 0.02, the spec's) scales every initial weight so that the layer-1 mixer moves the logits
// by several nats; at 0.02 its output projection is so small that the logits hardly depend on it.
import Foundation
import StrataCore
import StrataIO
import StrataModels
import StrataTrain

let arguments = CommandLine.arguments
let out = URL(fileURLWithPath: arguments.count > 1 ? arguments[1] : "/tmp/mqar")
try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
let task = try CapabilityTasks.make("mqar", knobs: [:])
func text(_ b: TaskBatch) -> String {
    b.inputs.map(String.init).joined(separator: " ") + "\n" + b.targets.map(String.init).joined(separator: " ") + "\n"
}
var training = TaskRunner.trainingRNG(seed: 1), evaluation = TaskRunner.evaluationRNG(seed: 1)
let first = task.batch(size: 16, rng: &training), second = task.batch(size: 16, rng: &training)
let test = task.batch(size: 16, rng: &evaluation)
try (text(first) + text(second) + text(test)).write(to: out.appendingPathComponent("batches.txt"), atomically: true, encoding: .utf8)
for mixer in arguments.dropFirst(2) {
    var spec = try ModelSpec.load(URL(fileURLWithPath: "configs/tasks/mqar-\(mixer).json"))
    spec.vocabSize = 128
    spec.contextLength = 64
    spec.initStd = Float(ProcessInfo.processInfo.environment["INIT_STD"] ?? "0.02") ?? 0.02
    let model = try TransformerModel(spec: spec, seed: 1)
    try model.saveSafeTensors(to: out.appendingPathComponent("\(mixer).safetensors"))
    let logits = model.logits(test.inputs, batch: 16, length: 64).scalars
    try logits.withUnsafeBufferPointer { Data(buffer: $0) }.write(to: out.appendingPathComponent("\(mixer).logits.f32"))
    print(mixer, "written")
}
