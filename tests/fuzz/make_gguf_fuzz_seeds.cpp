// Writes a small seed corpus for fuzz_gguf_reader: valid files covering every
// value type, nested and string arrays, versions 2 and 3, a custom alignment,
// split keys and several tensor types. Built with the tests' own GGUF writer
// (independent of the reader). usage: make_gguf_fuzz_seeds DIR
#include <cstdio>
#include <filesystem>
#include <string>

#include "gguf_test_writer.hpp"

using namespace tessera::test::gguf;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  auto save = [&](const std::string& name, Writer w) { write_file(dir / (name + ".gguf"), w.build()); };

  save("small", small_model());

  Writer v2(2);
  v2.kv("general.architecture", kString, string_value("llama")).tensor({"a", {32}, kTQ4_0});
  save("v2", v2);

  Writer aligned(3, 64);
  aligned.kv("general.alignment", kU32, scalar<uint32_t>(64))
      .tensor({"a", {3}, kTF16})
      .tensor({"b", {2, 2, 2, 2}, kTI8})
      .tensor({"c", {256}, kTQ6_K});
  save("aligned64", aligned);

  Bytes deep = array_value<uint64_t>(kU64, {1, 2});
  for (int i = 0; i < 6; ++i) deep = array_of_arrays({deep, string_array({"s"})});
  Writer nested;
  nested.kv("deep", kArray, deep).kv("f64s", kArray, array_value<double>(kF64, {0.25, -1.0}));
  save("nested", nested);

  Writer vocab;
  vocab.kv("tokenizer.ggml.model", kString, string_value("llama"))
      .kv("tokenizer.ggml.tokens", kArray, string_array({"<unk>", "<s>", "</s>", "\xe2\x96\x81the", "<0x0A>"}))
      .kv("tokenizer.ggml.scores", kArray, array_value<float>(kF32, {0, 0, 0, -1.5f, -2}))
      .kv("tokenizer.ggml.token_type", kArray, array_value<int32_t>(kI32, {2, 3, 3, 1, 6}))
      .kv("tokenizer.ggml.add_bos_token", kBool, scalar<uint8_t>(1));
  save("vocab", vocab);

  Writer split;
  split.kv("split.no", kU16, scalar<uint16_t>(0))
      .kv("split.count", kU16, scalar<uint16_t>(1))
      .kv("split.tensors.count", kI32, scalar<int32_t>(1))
      .tensor({"x", {0, 4}, kTF32});
  save("split", split);
  return 0;
}
