// Bad graphs are reported with the op, the tensor and what was expected,
// never executed half-way and never a crash.
#include "cpu_test_support.hpp"

using namespace tessera::cpu_test;

namespace {

struct cpu_validation : ::testing::Test {
  Backend backend{2};
  tessera_tensor w = backend.tensor(TESSERA_DTYPE_F32, {8, 4}, random_floats(32, 1), "blk.0.attn_q.weight");
  tessera_tensor x = backend.tensor(TESSERA_DTYPE_F32, {8, 3}, random_floats(24, 2), "attn_norm");
  tessera_tensor out = backend.tensor(TESSERA_DTYPE_F32, {4, 3}, nullptr, "q");

  // Expects `code` and every word of `words` in the message.
  void expect_error(std::vector<tessera_node*> nodes, tessera_status code, std::vector<std::string> words) {
    Status s = backend.execute(nodes);
    EXPECT_EQ(s.code, code) << s.message;
    for (const auto& word : words)
      EXPECT_NE(s.message.find(word), std::string::npos) << "'" << word << "' not in: " << s.message;
  }
};

}  // namespace

TEST_F(cpu_validation, MulMatInnerDimensionMismatchNamesOpTensorAndShape) {
  auto bad_x = backend.tensor(TESSERA_DTYPE_F32, {7, 3}, random_floats(21, 3), "attn_norm_short");
  auto node = make_node(TESSERA_OP_MUL_MAT, &out, {&w, &bad_x});
  expect_error({&node}, TESSERA_ERR_INVALID_ARGUMENT, {"mul_mat", "attn_norm_short", "[7, 3, 1, 1]", "expected [8,"});
}

TEST_F(cpu_validation, WrongDestinationShapeAndDtype) {
  auto wrong = backend.tensor(TESSERA_DTYPE_F32, {3, 4}, nullptr, "q_transposed");
  auto node = make_node(TESSERA_OP_MUL_MAT, &wrong, {&w, &x});
  expect_error({&node}, TESSERA_ERR_INVALID_ARGUMENT, {"mul_mat", "dst 'q_transposed'", "expected [4, 3, 1, 1]"});
  auto half = backend.tensor(TESSERA_DTYPE_F16, {4, 3}, nullptr, "q_half");
  node = make_node(TESSERA_OP_MUL_MAT, &half, {&w, &x});
  expect_error({&node}, TESSERA_ERR_INVALID_ARGUMENT, {"dst 'q_half'", "F16", "expected F32"});
  auto ids_f32 = backend.tensor(TESSERA_DTYPE_F32, {3}, std::vector<float>{0, 1, 2}, "ids_as_float");
  auto rows = backend.tensor(TESSERA_DTYPE_F32, {8, 3}, nullptr, "rows");
  node = make_node(TESSERA_OP_GET_ROWS, &rows, {&w, &ids_f32});
  expect_error({&node}, TESSERA_ERR_INVALID_ARGUMENT, {"get_rows", "src1 'ids_as_float'", "expected I32"});
}

TEST_F(cpu_validation, UnsupportedOpsAndDtypesAreUnsupported) {
  auto unknown = make_node(99, &out, {&x});
  expect_error({&unknown}, TESSERA_ERR_UNSUPPORTED, {"op id 99"});
  // GPTQ weights run in mul_mat only (test_cpu_gptq.cpp), never as an embedding table.
  tessera_tensor gptq = backend.tensor(TESSERA_DTYPE_GPTQ_4BIT, {32, 4}, nullptr, "gptq_weights");
  auto ids = backend.tensor(TESSERA_DTYPE_I32, {1}, std::vector<int32_t>{0}, "ids");
  auto node = make_node(TESSERA_OP_GET_ROWS, &out, {&gptq, &ids});
  expect_error({&node}, TESSERA_ERR_UNSUPPORTED, {"get_rows", "gptq_weights", "GPTQ_4BIT"});
}

TEST_F(cpu_validation, MissingTensorsAndMalformedDescriptors) {
  auto no_src1 = make_node(TESSERA_OP_MUL_MAT, &out, {&w});
  expect_error({&no_src1}, TESSERA_ERR_INVALID_ARGUMENT, {"mul_mat", "src1 is NULL"});
  auto no_dst = make_node(TESSERA_OP_SILU, nullptr, {&x});
  expect_error({&no_dst}, TESSERA_ERR_INVALID_ARGUMENT, {"silu", "dst is NULL"});
  tessera_tensor unplaced = x;
  unplaced.buffer = nullptr;
  auto node = make_node(TESSERA_OP_SILU, &out, {&unplaced});
  expect_error({&node}, TESSERA_ERR_INVALID_ARGUMENT, {"not placed"});
  tessera_tensor dims = x;
  dims.n_dims = 0;
  node = make_node(TESSERA_OP_SILU, &out, {&dims});
  expect_error({&node}, TESSERA_ERR_INVALID_ARGUMENT, {"n_dims 0"});
  tessera_tensor negative = x;
  negative.ne[1] = -3;
  node = make_node(TESSERA_OP_SILU, &out, {&negative});
  expect_error({&node}, TESSERA_ERR_INVALID_ARGUMENT, {"negative"});
  tessera_tensor old = x;
  old.struct_size = 8;
  node = make_node(TESSERA_OP_SILU, &out, {&old});
  expect_error({&node}, TESSERA_ERR_INVALID_ARGUMENT, {"struct_size"});
  tessera_tensor misaligned = x;
  misaligned.offset = 2;
  node = make_node(TESSERA_OP_SILU, &out, {&misaligned});
  expect_error({&node}, TESSERA_ERR_INVALID_ARGUMENT, {"offset 2"});
}

TEST_F(cpu_validation, TensorsReachingPastTheirBufferAreRejected) {
  tessera_tensor too_big = x;
  too_big.ne[1] = 4;  // the buffer holds 3 rows
  auto node = make_node(TESSERA_OP_SCALE, &too_big, {&too_big});
  node.f_params[0] = 1.0f;
  expect_error({&node}, TESSERA_ERR_INVALID_ARGUMENT, {"scale", "attn_norm", "past the end", "96 bytes"});
  tessera_tensor shifted = x;
  shifted.offset = 1ull << 62;
  node = make_node(TESSERA_OP_SCALE, &x, {&shifted});
  expect_error({&node}, TESSERA_ERR_INVALID_ARGUMENT, {"past the end"});
  tessera_tensor wrapping = x;
  wrapping.nb[1] = ~0ull - 7;  // (ne - 1) * nb overflows 64 bits
  node = make_node(TESSERA_OP_SCALE, &x, {&wrapping});
  expect_error({&node}, TESSERA_ERR_INVALID_ARGUMENT, {"2^64"});
}

TEST_F(cpu_validation, BadParametersAreReported) {
  auto pos = backend.tensor(TESSERA_DTYPE_I32, {3}, std::vector<int32_t>{0, 1, 2}, "pos");
  auto rope = make_node(TESSERA_OP_ROPE, &x, {&x, &pos});
  rope.i_params[0] = 5;  // odd
  rope.f_params[0] = 10000.0f;
  rope.f_params[1] = 1.0f;
  expect_error({&rope}, TESSERA_ERR_INVALID_ARGUMENT, {"rope", "n_rot", "even"});
  rope.i_params[0] = 8;
  rope.f_params[0] = 0.0f;
  expect_error({&rope}, TESSERA_ERR_INVALID_ARGUMENT, {"freq_base"});
  auto few = backend.tensor(TESSERA_DTYPE_I32, {2}, std::vector<int32_t>{0, 1}, "pos2");
  rope = make_node(TESSERA_OP_ROPE, &x, {&x, &few});
  rope.i_params[0] = 8;
  rope.f_params[0] = 10000.0f;
  rope.f_params[1] = 1.0f;
  expect_error({&rope}, TESSERA_ERR_INVALID_ARGUMENT, {"pos2", "one per token"});
  auto norm = make_node(TESSERA_OP_RMS_NORM, &x, {&x});
  norm.f_params[0] = -1.0f;
  expect_error({&norm}, TESSERA_ERR_INVALID_ARGUMENT, {"rms_norm", "epsilon"});
}

TEST_F(cpu_validation, BroadcastThatDoesNotDivideIsRejected) {
  auto b = backend.tensor(TESSERA_DTYPE_F32, {3}, std::vector<float>{1, 2, 3}, "bias3");
  auto node = make_node(TESSERA_OP_ADD, &x, {&x, &b});
  expect_error({&node}, TESSERA_ERR_INVALID_ARGUMENT, {"add", "bias3", "broadcast"});
}

TEST_F(cpu_validation, GetRowsIdOutOfRangeWritesNothing) {
  auto ids = backend.tensor(TESSERA_DTYPE_I32, {3}, std::vector<int32_t>{0, 4, 1}, "tokens");
  auto rows = backend.tensor(TESSERA_DTYPE_F32, {8, 3}, std::vector<float>(24, -1.0f), "embd");
  auto node = make_node(TESSERA_OP_GET_ROWS, &rows, {&w, &ids});
  expect_error({&node}, TESSERA_ERR_INVALID_ARGUMENT, {"get_rows", "tokens", "row id 4", "[0, 4)"});
  for (float v : backend.read<float>(rows)) ASSERT_EQ(v, -1.0f);
}

TEST_F(cpu_validation, ABadLaterNodeStopsTheWholeGraphBeforeItRuns) {
  const auto before = backend.read<float>(x);
  auto scale = make_node(TESSERA_OP_SCALE, &x, {&x});
  scale.f_params[0] = 2.0f;
  auto bad = make_node(TESSERA_OP_MUL_MAT, &out, {&w, &w});  // src1 [8, 4]: dst shape wrong
  expect_error({&scale, &bad}, TESSERA_ERR_INVALID_ARGUMENT, {"graph node 1", "mul_mat"});
  EXPECT_EQ(backend.read<float>(x), before);
}

TEST_F(cpu_validation, MulMatCannotWriteOverItsInputs) {
  tessera_tensor alias = x;  // [8, 3] region reinterpreted as dst [4, 3] over src1's bytes
  alias.ne[0] = 4;
  alias.nb[1] = 16;
  auto node = make_node(TESSERA_OP_MUL_MAT, &alias, {&w, &x});
  expect_error({&node}, TESSERA_ERR_INVALID_ARGUMENT, {"overlaps"});
}

TEST_F(cpu_validation, NullAndMalformedGraphs) {
  tessera_error err;
  tessera_error_init(&err);
  EXPECT_EQ(api().graph_execute(backend.get(), nullptr, &err), TESSERA_ERR_INVALID_ARGUMENT);
  tessera_graph g{sizeof(tessera_graph), 2, nullptr};
  EXPECT_EQ(api().graph_execute(backend.get(), &g, &err), TESSERA_ERR_INVALID_ARGUMENT);
  expect_error({nullptr}, TESSERA_ERR_INVALID_ARGUMENT, {"graph node 0 is NULL"});
  auto node = make_node(TESSERA_OP_SILU, &out, {&x});
  node.struct_size = 4;
  expect_error({&node}, TESSERA_ERR_INVALID_ARGUMENT, {"struct_size"});
  EXPECT_EQ(api().graph_execute(nullptr, &g, &err), TESSERA_ERR_INVALID_ARGUMENT);
  Status empty = backend.execute({});
  EXPECT_EQ(empty.code, TESSERA_OK) << empty.message;
}

TEST_F(cpu_validation, EmptyAndAbsurdShapesNeverCrash) {
  // An empty batch: nothing to do, and not an error.
  auto empty_x = backend.tensor(TESSERA_DTYPE_F32, {8, 0}, nullptr, "no_tokens");
  auto empty_out = backend.tensor(TESSERA_DTYPE_F32, {4, 0}, nullptr, "no_q");
  auto node = make_node(TESSERA_OP_MUL_MAT, &empty_out, {&w, &empty_x});
  Status s = backend.execute({&node});
  EXPECT_EQ(s.code, TESSERA_OK) << s.message;
  // Zero weight batches with non-zero activation batches cannot broadcast.
  tessera_tensor no_batches = w;
  no_batches.n_dims = 3;
  no_batches.ne[2] = 0;
  tessera_tensor x3 = x;
  x3.n_dims = 3;
  node = make_node(TESSERA_OP_MUL_MAT, &out, {&no_batches, &x3});
  expect_error({&node}, TESSERA_ERR_INVALID_ARGUMENT, {"batch"});
  // A zero stride lets a gigantic shape fit in a few bytes: still refused.
  tessera_tensor huge = x;
  huge.n_dims = 4;
  huge.ne[1] = huge.ne[2] = huge.ne[3] = int64_t{1} << 30;
  huge.nb[1] = huge.nb[2] = huge.nb[3] = 0;
  node = make_node(TESSERA_OP_SILU, &huge, {&huge});
  expect_error({&node}, TESSERA_ERR_INVALID_ARGUMENT, {"2^63"});
}
