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

// Dropped pages of a mapped file read back unchanged; memory that is not
// a live mapped file is left alone (it would be zeroed).
TEST(MappedFileTest, DropPagesOnlyTouchesMappedFiles) {
  std::string bytes(1 << 20, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i % 251);
  std::string path = testing::TempDir() + "/drop.bin";
  ASSERT_TRUE(WriteStringToFile(path, bytes).ok());
  auto file = MappedFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  const uint8_t* data = (*file)->data();
  uint64_t sum = 0;  // every page resident before the drop
  for (size_t i = 0; i < bytes.size(); ++i) sum += data[i];
  ASSERT_GT(sum, 0u);
  EXPECT_TRUE(MappedFile::DropPages(data + 100, bytes.size() - 200));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(data), bytes.size()),
            bytes);
  EXPECT_FALSE(MappedFile::DropPages(data + 100, bytes.size()));  // past it
  const std::string heap = bytes;
  EXPECT_FALSE(MappedFile::DropPages(heap.data(), heap.size()));
  EXPECT_EQ(heap, bytes);
  const uintptr_t gone = reinterpret_cast<uintptr_t>(data);
  file->reset();
  EXPECT_FALSE(MappedFile::DropPages(reinterpret_cast<const void*>(gone), 16));
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
