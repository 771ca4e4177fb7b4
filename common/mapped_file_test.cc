#include "common/mapped_file.h"

#include <string>

#include "common/testing/shared_data.h"
#include "gtest/gtest.h"

namespace tessera {
namespace {

TEST(MappedFileTest, MapsWrittenBytes) {
  std::string path = testing::TempDir() + "/mapped.bin";
  ASSERT_TRUE(WriteStringToFile(path, std::string("hello\0world", 11)).ok());
  auto file = MappedFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_EQ((*file)->size(), 11u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>((*file)->data()), 11),
            std::string("hello\0world", 11));
}

TEST(MappedFileTest, EmptyFileMapsToZeroBytes) {
  std::string path = testing::TempDir() + "/empty.bin";
  ASSERT_TRUE(WriteStringToFile(path, "").ok());
  auto file = MappedFile::Open(path);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ((*file)->size(), 0u);
}

TEST(MappedFileTest, MissingFileIsNotFound) {
  auto file = MappedFile::Open(testing::TempDir() + "/does-not-exist");
  EXPECT_EQ(file.status().code(), absl::StatusCode::kNotFound);
}

TEST(MappedFileTest, DirectoryIsRejected) {
  auto file = MappedFile::Open(testing::TempDir());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(MappedFileTest, ReadFileRoundTrips) {
  std::string path = testing::TempDir() + "/text.txt";
  ASSERT_TRUE(WriteStringToFile(path, "abc\n").ok());
  EXPECT_EQ(*ReadFileToString(path), "abc\n");
  EXPECT_FALSE(ReadFileToString(path + ".missing").ok());
}

}  // namespace
}  // namespace tessera
