#define BOOST_TEST_MODULE daemon
#include <fcntl.h>
#include <linux/fs.h>
#include <pwd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/daemon/daemon.h"

namespace fs = std::filesystem;
namespace tt = boost::unit_test;

namespace {

// Sets or clears the immutable attribute (chattr +i): even root's chown of the entry then fails
// with EPERM. Returns false where the file system does not have it.
bool set_immutable(const fs::path& p, bool on) {
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  int flags = 0;
  bool ok = ::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
  if (ok) {
    flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
    ok = ::ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
  }
  ::close(fd);
  return ok;
}

struct TempDir {
  fs::path path;
  std::vector<fs::path> immutable;
  TempDir() {
    char tmpl[] = "/tmp/nj-daemon-test-XXXXXX";
    BOOST_REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    for (const auto& p : immutable) set_immutable(p, false);
    fs::remove_all(path);
  }
  void make_immutable(const fs::path& p) {
    BOOST_REQUIRE(set_immutable(p, true));
    immutable.push_back(p);
  }
};

// Root, and the immutable attribute where the tests make their directories.
boost::test_tools::assertion_result root_with_immutable_files(tt::test_unit_id) {
  boost::test_tools::assertion_result no(false);
  if (geteuid() != 0) {
    no.message() << "drop_privileges needs root";
    return no;
  }
  TempDir t;
  fs::path f = t.path / "probe";
  std::ofstream(f) << "x";
  if (!set_immutable(f, true)) {
    no.message() << "no immutable attribute on " << t.path.string();
    return no;
  }
  set_immutable(f, false);
  return boost::test_tools::assertion_result(true);
}

// drop_privileges in a child process (a success drops root for good); "" or its error.
std::string drop_in_child(const std::string& user, const fs::path& dir) {
  int fds[2];
  BOOST_REQUIRE(pipe(fds) == 0);
  pid_t pid = fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    auto st = nj::daemon::drop_privileges(user, dir.string());
    std::string out = st ? "" : st.error();
    if (st && (geteuid() == 0 || getuid() == 0)) out = "still root after a success";
    (void)!::write(fds[1], out.data(), out.size());
    _exit(0);
  }
  ::close(fds[1]);
  std::string got;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
    got.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  BOOST_REQUIRE(waitpid(pid, &status, 0) == pid);
  BOOST_REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  return got;
}

uid_t owner(const fs::path& p) {
  struct stat st;
  BOOST_REQUIRE(::lstat(p.c_str(), &st) == 0);
  return st.st_uid;
}

uid_t nobody() {
  passwd* pw = getpwnam("nobody");
  BOOST_REQUIRE(pw != nullptr);
  return pw->pw_uid;
}

}  // namespace

BOOST_AUTO_TEST_CASE(data_dir_that_cannot_be_given_stops_start_up,
                     *tt::precondition(root_with_immutable_files)) {
  // data_dir itself: its chown fails, and what is inside could be given.
  TempDir t;
  fs::path data = t.path / "data";
  fs::create_directories(data / "queue");
  std::ofstream(data / "queue" / "data.mdb") << "x";
  t.make_immutable(data);
  std::string err = drop_in_child("nobody", data);
  BOOST_TEST(err ==
             "data_dir: cannot give " + data.string() + " to nobody: Operation not permitted");
  BOOST_TEST(owner(data) == 0u);
}

BOOST_AUTO_TEST_CASE(entry_that_cannot_be_given_stops_start_up,
                     *tt::precondition(root_with_immutable_files)) {
  // One entry inside, neither the first nor the last of the walk.
  TempDir t;
  fs::path data = t.path / "data";
  fs::create_directories(data / "queue");
  for (auto f : {"a", "b", "c"}) std::ofstream(data / "queue" / f) << "x";
  t.make_immutable(data / "queue" / "b");
  std::string err = drop_in_child("nobody", data);
  BOOST_TEST(err == "data_dir: cannot give " + (data / "queue" / "b").string() +
                        " to nobody: Operation not permitted");
}

BOOST_AUTO_TEST_CASE(data_dir_is_given_with_links_as_links,
                     *tt::precondition(root_with_immutable_files)) {
  // Everything is the user's afterwards; a symbolic link inside (the daemon's user could have
  // left one there) is given as a link, and root's file it names stays root's.
  TempDir t;
  fs::path data = t.path / "data", outside = t.path / "root-only";
  fs::create_directories(data / "queue");
  std::ofstream(data / "queue" / "data.mdb") << "x";
  std::ofstream(outside) << "root's";
  fs::create_symlink(outside, data / "queue" / "link");
  BOOST_TEST(drop_in_child("nobody", data) == "");
  for (auto p : {data, data / "queue", data / "queue" / "data.mdb", data / "queue" / "link"})
    BOOST_TEST(owner(p) == nobody(), p.string());
  BOOST_TEST(owner(outside) == 0u);
}
