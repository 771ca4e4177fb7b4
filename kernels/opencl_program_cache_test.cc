#include "kernels/opencl_program_cache.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/mapped_file.h"
#include "gtest/gtest.h"
#include "kernels/opencl_kernels.h"
#include "kernels/opencl_sources.h"
#include "kernels/opencl_testing.h"

namespace tessera::kernels {
namespace {

constexpr absl::string_view kSource =
    "__kernel void twice(__global float* x) {\n"
    "  x[get_global_id(0)] *= 2.0f;\n"
    "}\n";

class OpenClProgramCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto context = testing::DefaultContext();
    status_ = context.status();
    if (context.ok()) context_ = std::move(*context);
    static int counter = 0;
    dir_ =
        absl::StrCat(tessera::testing::TempDir(), "/opencl_cache_", counter++);
  }

  // Runs kernel "twice" of `program` over {1, 2, 3, 4}.
  void ExpectTwiceWorks(cl_program program) {
    cl_int err = CL_SUCCESS;
    ClKernel kernel(clCreateKernel(program, "twice", &err));
    ASSERT_EQ(err, CL_SUCCESS);
    absl::StatusOr<ClMem> buffer = context_->CreateBuffer(16);
    ASSERT_TRUE(buffer.ok());
    float values[4] = {1, 2, 3, 4};
    ASSERT_TRUE(context_->Write(buffer->get(), 0, 16, values, true).ok());
    cl_mem mem = buffer->get();
    ASSERT_EQ(clSetKernelArg(kernel.get(), 0, sizeof(mem), &mem), CL_SUCCESS);
    size_t global = 4;
    ASSERT_EQ(
        clEnqueueNDRangeKernel(context_->queue(), kernel.get(), 1, nullptr,
                               &global, nullptr, 0, nullptr, nullptr),
        CL_SUCCESS);
    ASSERT_TRUE(context_->Read(buffer->get(), 0, 16, values).ok());
    EXPECT_EQ(values[3], 8.0f);
  }

  absl::Status status_;
  std::unique_ptr<OpenClContext> context_;
  std::string dir_;
};

TEST_F(OpenClProgramCacheTest, StoresThenLoadsTheBinary) {
  TESSERA_REQUIRE_OPENCL(status_);
  const absl::string_view sources[] = {kSource};
  {
    OpenClProgramCache cache(context_.get(), dir_);
    absl::StatusOr<ClProgram> program = cache.Build(sources, "");
    ASSERT_TRUE(program.ok()) << program.status();
    EXPECT_EQ(cache.stats().compiled, 1);
    EXPECT_EQ(cache.stats().loaded, 0);
    EXPECT_TRUE(std::filesystem::exists(cache.EntryPath(sources, "")));
  }
  OpenClProgramCache again(context_.get(), dir_);
  absl::StatusOr<ClProgram> program = again.Build(sources, "");
  ASSERT_TRUE(program.ok()) << program.status();
  EXPECT_EQ(again.stats().compiled, 0);
  EXPECT_EQ(again.stats().loaded, 1);
  ExpectTwiceWorks(program->get());
}

TEST_F(OpenClProgramCacheTest, KeyCoversSourcesAndOptions) {
  TESSERA_REQUIRE_OPENCL(status_);
  OpenClProgramCache cache(context_.get(), dir_);
  const absl::string_view a[] = {kSource};
  const absl::string_view b[] = {kSource, "\n// changed\n"};
  EXPECT_NE(cache.EntryPath(a, ""), cache.EntryPath(b, ""));
  EXPECT_NE(cache.EntryPath(a, ""), cache.EntryPath(a, "-DX=1"));
  EXPECT_EQ(cache.EntryPath(a, "-DX=1"), cache.EntryPath(a, "-DX=1"));
  EXPECT_TRUE(absl::StartsWith(cache.EntryPath(a, ""), dir_ + "/"));
}

TEST_F(OpenClProgramCacheTest, CorruptEntryIsRebuiltAndReplaced) {
  TESSERA_REQUIRE_OPENCL(status_);
  const absl::string_view sources[] = {kSource};
  OpenClProgramCache cache(context_.get(), dir_);
  const std::string path = cache.EntryPath(sources, "");
  std::filesystem::create_directories(dir_);
  for (const std::string& junk :
       {std::string("TSCLBIN1\x05"), std::string("garbage"),
        std::string("TSCLBIN1\x03\0\0\0abc\x10\0\0\0\0\0\0\0xyz", 27)}) {
    ASSERT_TRUE(WriteStringToFile(path, junk).ok());
    absl::StatusOr<ClProgram> program = cache.Build(sources, "");
    ASSERT_TRUE(program.ok()) << program.status();
    ExpectTwiceWorks(program->get());
  }
  EXPECT_EQ(cache.stats().rejected, 3);
  EXPECT_EQ(cache.stats().compiled, 3);
  OpenClProgramCache again(context_.get(), dir_);
  ASSERT_TRUE(again.Build(sources, "").ok());
  EXPECT_EQ(again.stats().loaded, 1);  // the rewritten entry is good
}

TEST_F(OpenClProgramCacheTest, WithoutDirectoryAlwaysCompiles) {
  TESSERA_REQUIRE_OPENCL(status_);
  const absl::string_view sources[] = {kSource};
  OpenClProgramCache cache(context_.get(), "");
  EXPECT_EQ(cache.EntryPath(sources, ""), "");
  ASSERT_TRUE(cache.Build(sources, "").ok());
  ASSERT_TRUE(cache.Build(sources, "").ok());
  EXPECT_EQ(cache.stats().compiled, 2);
}

TEST_F(OpenClProgramCacheTest, UnwritableDirectoryIsNotAnError) {
  TESSERA_REQUIRE_OPENCL(status_);
  std::filesystem::create_directories(dir_);
  const std::string file = dir_ + "/not_a_dir";
  ASSERT_TRUE(WriteStringToFile(file, "x").ok());
  OpenClProgramCache cache(context_.get(), file + "/cache");
  const absl::string_view sources[] = {kSource};
  absl::StatusOr<ClProgram> program = cache.Build(sources, "");
  ASSERT_TRUE(program.ok()) << program.status();
  EXPECT_EQ(cache.stats().write_failures, 1);
}

TEST_F(OpenClProgramCacheTest, BuildFailureCarriesTheLog) {
  TESSERA_REQUIRE_OPENCL(status_);
  OpenClProgramCache cache(context_.get(), dir_);
  const absl::string_view sources[] = {
      "__kernel void broken(__global float* x) { x[0] = undefined_name; }"};
  absl::StatusOr<ClProgram> program = cache.Build(sources, "");
  ASSERT_FALSE(program.ok());
  EXPECT_TRUE(absl::StartsWith(program.status().message(),
                               "clBuildProgram: CL_BUILD_PROGRAM_FAILURE: "))
      << program.status();
  EXPECT_TRUE(absl::StrContains(program.status().message(), "undefined_name"))
      << program.status();
  EXPECT_FALSE(std::filesystem::exists(cache.EntryPath(sources, "")));
}

TEST_F(OpenClProgramCacheTest, BadOptionsAreAStatus) {
  TESSERA_REQUIRE_OPENCL(status_);
  OpenClProgramCache cache(context_.get(), "");
  const absl::string_view sources[] = {kSource};
  absl::StatusOr<ClProgram> program =
      cache.Build(sources, "-this-is-not-an-option");
  ASSERT_FALSE(program.ok());
  EXPECT_TRUE(absl::StartsWith(program.status().message(), "clBuildProgram: "))
      << program.status();
}

TEST(OpenClProgramCacheDirTest, DefaultDirFollowsTheEnvironment) {
  const char* saved = std::getenv("TESSERA_CACHE_DIR");
  const std::string restore = saved == nullptr ? "" : saved;
  setenv("TESSERA_CACHE_DIR", "/some/cache", 1);
  EXPECT_EQ(OpenClProgramCache::DefaultDir(), "/some/cache/opencl");
  unsetenv("TESSERA_CACHE_DIR");
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] != '\0') {
    EXPECT_EQ(OpenClProgramCache::DefaultDir(),
              absl::StrCat(home, "/.cache/tessera/opencl"));
  }
  if (saved != nullptr) setenv("TESSERA_CACHE_DIR", restore.c_str(), 1);
}

TEST(OpenClSourcesTest, EveryKernelFamilyIsEmbeddedWithItsTradeOffs) {
  for (const char* name : {"common.cl", "matvec_f32.cl", "matvec_f16.cl",
                           "matvec_q8_0.cl", "matvec_q4_0.cl", "rmsnorm.cl",
                           "rope.cl", "attention.cl", "elementwise.cl"}) {
    const EmbeddedSource* source = FindEmbeddedOpenClSource(name);
    ASSERT_NE(source, nullptr) << name;
    EXPECT_EQ(std::string(source->text).size(), source->size);
    EXPECT_TRUE(absl::StartsWith(source->text, absl::StrCat("// ", name)))
        << name;
    EXPECT_TRUE(absl::StrContains(source->text, "Trade-off")) << name;
  }
  EXPECT_EQ(FindEmbeddedOpenClSource("missing.cl"), nullptr);
}

TEST(OpenClKernelsTest, AllProgramsBuildWithQueriedGeometry) {
  auto context = testing::DefaultContext();
  TESSERA_REQUIRE_OPENCL(context.status());
  OpenClProgramCache cache(context->get(), OpenClProgramCache::DefaultDir());
  auto kernels = OpenClKernels::Create(context->get(), &cache);
  ASSERT_TRUE(kernels.ok()) << kernels.status();
  for (const char* name :
       {"matvec_f32", "matmul_f16", "matvec_q8_0", "matmul_q4_0",
        "get_rows_q4_0", "rmsnorm", "rmsnorm_gather", "rope_store", "attention",
        "silu_mul"}) {
    absl::StatusOr<KernelInfo*> k = (*kernels)->Get(name);
    ASSERT_TRUE(k.ok()) << name;
    const KernelInfo& info = **k;
    EXPECT_GE(info.max_group_size, 1u);
    EXPECT_LE(info.lanes * info.rows_per_group, info.max_group_size) << name;
    EXPECT_LE(info.items, info.max_group_size) << name;
    EXPECT_EQ(info.lanes & (info.lanes - 1), 0u) << name;  // power of two
    if ((*context)->device().is_cpu) {
      EXPECT_EQ(info.lanes, 1u);
    }
  }
  EXPECT_TRUE(absl::IsNotFound((*kernels)->Get("no_such_kernel").status()));
}

}  // namespace
}  // namespace tessera::kernels
