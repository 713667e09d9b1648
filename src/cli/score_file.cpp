// Score file parsing: every failure names the file and what is wrong with it
// (for text, the line).
#include "score_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "score_number.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, ".f32 files are read with a plain copy");

namespace cuis_cli {
namespace {

// Closes the descriptor on every path out.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// read() until count bytes or the end of the file; -1 on an error (errno set).
ssize_t read_full(int fd, char* buf, size_t count) {
  size_t done = 0;
  while (done < count) {
    const ssize_t r = ::read(fd, buf + done, count - done);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return static_cast<ssize_t>(done);
}

bool read_raw(const std::string& path, int fd, off_t size, std::vector<float>* out, std::string* error) {
  if (size == 0) {
    *error = path + ": empty file (a .f32 file holds at least one float32)";
    return false;
  }
  if (size % 4 != 0) {
    *error = path + ": truncated float32 file (" + std::to_string(size) + " bytes is not a multiple of 4)";
    return false;
  }
  out->resize(static_cast<size_t>(size / 4));
  const ssize_t got = read_full(fd, reinterpret_cast<char*>(out->data()), static_cast<size_t>(size));
  if (got < 0) {
    *error = path + ": read failed (" + std::strerror(errno) + ")";
    return false;
  }
  char extra = 0;
  if (got != size || read_full(fd, &extra, 1) != 0) {
    *error = path + ": the file changed size while being read";
    return false;
  }
  return true;
}

// The text format, one line at a time.
class TextParser {
 public:
  TextParser(const std::string& path, std::vector<float>* out) : m_path(path), m_out(out) {}

  // Feeds bytes; false with *error at the first refused line.
  bool feed(const char* data, size_t size, std::string* error) {
    for (size_t i = 0; i < size; ++i) {
      if (m_at_start) {
        bool consumed = false;
        if (!start_byte(static_cast<unsigned char>(data[i]), &consumed, error)) return false;
        if (consumed) continue;
      }
      if (data[i] == '\n') {
        if (!end_line(true, error)) return false;
      } else if (m_line.size() > MAX_LINE_BYTES) {  // room for a CR before the LF
        *error = where() + "longer than " + std::to_string(MAX_LINE_BYTES) + " bytes";
        return false;
      } else {
        m_line += data[i];
      }
    }
    return true;
  }

  // The end of the file: the last line may lack its line end.
  bool finish(std::string* error) {
    if (m_at_start) flush_partial_bom();
    if (!m_line.empty() && !end_line(false, error)) return false;
    if (m_out->empty()) {
      *error = m_path + ": no scores in file (" +
               (m_number == 0
                    ? std::string("no lines")
                    : std::to_string(m_number) + (m_number == 1 ? " line" : " lines") + ", all blank or comments") +
               ")";
      return false;
    }
    return true;
  }

 private:
  // The first bytes: EF BB BF is skipped (*consumed); a first byte FF or FE
  // (a UTF-16 byte-order mark, never valid in UTF-8) is refused.
  bool start_byte(unsigned char c, bool* consumed, std::string* error) {
    static const unsigned char BOM[3] = {0xEF, 0xBB, 0xBF};
    if (m_bom_byte == 0 && (c == 0xFF || c == 0xFE)) {
      *error = m_path + ": starts with a UTF-16 byte-order mark; save it as UTF-8 or ASCII text";
      return false;
    }
    if (c == BOM[m_bom_byte]) {
      *consumed = true;
      if (++m_bom_byte == 3) {
        m_bom_byte = 0;
        m_at_start = false;
      }
      return true;
    }
    flush_partial_bom();
    return true;
  }

  // Not a byte-order mark after all: its bytes so far belong to the first line.
  void flush_partial_bom() {
    static const char BOM[3] = {'\xEF', '\xBB', '\xBF'};
    m_line.append(BOM, m_bom_byte);
    m_bom_byte = 0;
    m_at_start = false;
  }

  std::string where() const { return m_path + ": line " + std::to_string(m_number + 1) + ": "; }

  bool end_line(bool had_lf, std::string* error) {
    if (had_lf && !m_line.empty() && m_line.back() == '\r') m_line.pop_back();
    const bool ok = parse_line(error);
    ++m_number;
    m_line.clear();
    return ok;
  }

  bool parse_line(std::string* error) {
    if (m_line.size() > MAX_LINE_BYTES) {
      *error = where() + "longer than " + std::to_string(MAX_LINE_BYTES) + " bytes";
      return false;
    }
    if (m_line.find('\r') != std::string::npos) {
      *error = where() + "a carriage return not followed by a line feed (line ends must be LF or CRLF)";
      return false;
    }
    size_t begin = 0, end = m_line.size();
    while (begin < end && (m_line[begin] == ' ' || m_line[begin] == '\t')) ++begin;
    while (end > begin && (m_line[end - 1] == ' ' || m_line[end - 1] == '\t')) --end;
    if (begin == end || m_line[begin] == '#') return true;
    const std::string token = m_line.substr(begin, end - begin);
    const std::string index = "score " + std::to_string(m_out->size());
    const ParsedNumber p = parse_float32(token);
    std::string why;
    switch (p.status) {
      case NumberStatus::ok:
        if (!p.negative) {
          m_out->push_back(p.value);
          return true;
        }
        why = index + " is negative (value " + printable(token) + ")";
        break;
      case NumberStatus::not_a_number:
        why = "not a number: '" + printable(m_line) + "'";
        break;
      case NumberStatus::trailing_text:
        why = "not a number: '" + printable(m_line) + "' (one number per line; '#' starts only a comment line)";
        break;
      case NumberStatus::nan_literal:
        why = index + " is NaN (value " + printable(token) + ")";
        break;
      case NumberStatus::inf_literal:
        why = index + " is infinite (value " + printable(token) + ")";
        break;
      case NumberStatus::out_of_range:
        why = p.negative ? index + " is negative (value " + printable(token) + ")"
                         : index + ": " + printable(token) + " is out of float32 range (largest 3.40282347e+38)";
        break;
      case NumberStatus::underflow:
        why = p.negative ? index + " is negative (value " + printable(token) + ")"
                         : index + ": " + printable(token) +
                               " is not zero but rounds to 0 in float32 (smallest positive 1.4e-45)";
        break;
    }
    *error = where() + why;
    return false;
  }

  const std::string& m_path;
  std::vector<float>* m_out;
  std::string m_line;
  long long m_number = 0;  // complete lines seen
  bool m_at_start = true;
  size_t m_bom_byte = 0;  // bytes of the UTF-8 byte-order mark matched so far
};

bool read_text(const std::string& path, int fd, std::vector<float>* out, std::string* error) {
  TextParser parser(path, out);
  std::vector<char> buf(1 << 16);
  for (;;) {
    const ssize_t got = ::read(fd, buf.data(), buf.size());
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      *error = path + ": read failed (" + std::strerror(errno) + ")";
      return false;
    }
    if (got == 0) break;
    if (!parser.feed(buf.data(), static_cast<size_t>(got), error)) return false;
  }
  return parser.finish(error);
}

}  // namespace

bool parse_score_text(const std::string& path, const char* data, size_t size, size_t chunk,
                      std::vector<float>* scores, std::string* error) {
  scores->clear();
  TextParser parser(path, scores);
  if (chunk == 0) chunk = 1;
  for (size_t at = 0; at < size; at += chunk)
    if (!parser.feed(data + at, std::min(chunk, size - at), error)) return false;
  return parser.finish(error);
}

bool read_scores(const std::string& path, std::vector<float>* scores, std::string* error) {
  scores->clear();
  Fd f;
  // O_NONBLOCK: opening a FIFO must not wait for a writer before we can refuse it.
  f.fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (f.fd < 0) {
    *error = path + ": cannot open (" + std::strerror(errno) + ")";
    return false;
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) {
    *error = path + ": cannot stat (" + std::strerror(errno) + ")";
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    *error = path + ": is " + kind_of(st.st_mode) + "; a score file must be a regular file";
    return false;
  }
  const int flags = ::fcntl(f.fd, F_GETFL);
  if (flags >= 0) (void)::fcntl(f.fd, F_SETFL, flags & ~O_NONBLOCK);
  return ends_with(path, ".f32") ? read_raw(path, f.fd, st.st_size, scores, error)
                                 : read_text(path, f.fd, scores, error);
}

}  // namespace cuis_cli
