// StrataIO: checkpoint and model-file formats. SafeTensors*.swift hold the safetensors reader
// (memory-mapped, validated at open), the atomic writer, and Module save/load helpers.
