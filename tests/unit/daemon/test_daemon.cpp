#define BOOST_TEST_MODULE daemon
#include <fcntl.h>
#include <grp.h>
#include <linux/fs.h>
#include <pwd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
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

// What `body` returns, run in a child process (what it does to the process stays there).
std::string in_child(const std::function<std::string()>& body) {
  int fds[2];
  BOOST_REQUIRE(pipe(fds) == 0);
  pid_t pid = fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    std::string out = body();
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

// drop_privileges in a child process (a success drops root for good); "" or its error.
std::string drop_in_child(const std::string& user, const fs::path& dir) {
  return in_child([&] {
    auto st = nj::daemon::drop_privileges(user, dir.string());
    if (st && (geteuid() == 0 || getuid() == 0)) return std::string("still root after a success");
    return st ? std::string() : st.error();
  });
}

// Root, to become another user in a child process.
boost::test_tools::assertion_result root(tt::test_unit_id) {
  boost::test_tools::assertion_result r(geteuid() == 0);
  if (!r) r.message() << "becoming another user needs root";
  return r;
}

// In a child process that has become `as` (as systemd's User= starts a daemon): check_user, then
// drop_privileges when it passed; "" or the first error ("not <as> any more" when a success left
// the process as someone else).
std::string start_as(const std::string& as, const std::string& user, const fs::path& dir) {
  passwd* pw = getpwnam(as.c_str());
  BOOST_REQUIRE(pw != nullptr);
  const uid_t uid = pw->pw_uid;
  const gid_t gid = pw->pw_gid;
  return in_child([&] {
    if (setgroups(0, nullptr) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
      return "cannot become " + as;
    auto st = nj::daemon::check_user(user, dir.string());
    if (st) st = nj::daemon::drop_privileges(user, dir.string());
    if (st && (geteuid() != uid || getuid() != uid)) return "not " + as + " any more";
    return st ? std::string() : st.error();
  });
}

// data_dir as systemd's StateDirectory= leaves it: the user's, mode 0700, in a directory the user
// may enter; `files` inside, the user's too.
fs::path state_directory(const TempDir& t, const std::string& user,
                         const std::vector<std::string>& files) {
  passwd* pw = getpwnam(user.c_str());
  BOOST_REQUIRE(pw != nullptr);
  fs::permissions(t.path, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  fs::path data = t.path / "data";
  fs::create_directories(data / "store");
  for (const auto& f : files) std::ofstream(data / f) << "x";
  for (auto p : {data, data / "store"})
    BOOST_REQUIRE(::chown(p.c_str(), pw->pw_uid, pw->pw_gid) == 0);
  for (const auto& f : files)
    BOOST_REQUIRE(::chown((data / f).c_str(), pw->pw_uid, pw->pw_gid) == 0);
  ::chmod(data.c_str(), 0700);
  return data;
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

BOOST_AUTO_TEST_CASE(started_as_the_user_with_its_data_dir_there_is_nothing_to_drop,
                     *tt::precondition(root)) {
  // systemd's User= and StateDirectory=: the daemon starts as its user, which owns data_dir.
  TempDir t;
  fs::path data = state_directory(t, "nobody", {"store/data.mdb", "store/lock.mdb"});
  BOOST_TEST(start_as("nobody", "nobody", data) == "");
  // No `user` configured: whoever started it.
  BOOST_TEST(start_as("nobody", "", data) == "");
}

BOOST_AUTO_TEST_CASE(started_as_the_user_an_entry_not_its_own_stops_start_up,
                     *tt::precondition(root)) {
  // What `nightjarctl` wrote as root after the daemon's user took data_dir: the daemon cannot
  // give it to itself, and says which entry, whose it is, and how to give it.
  TempDir t;
  fs::path data = state_directory(t, "nobody", {"store/data.mdb"});
  std::ofstream(data / "store" / "lock.mdb") << "x";  // root's
  BOOST_TEST(start_as("nobody", "nobody", data) ==
             "data_dir: " + (data / "store" / "lock.mdb").string() +
                 " belongs to root, not to nobody, which the daemon runs as: give data_dir to "
                 "nobody (chown -R nobody: " +
                 data.string() + ")");
  // data_dir itself root's (made by `install -d`, never started by systemd).
  ::chown((data / "store" / "lock.mdb").c_str(), nobody(), 0);
  ::chown(data.c_str(), 0, 0);
  ::chmod(data.c_str(), 0755);
  BOOST_TEST(start_as("nobody", "nobody", data) ==
             "data_dir: " + data.string() +
                 " belongs to root, not to nobody, which the daemon runs as: give data_dir to "
                 "nobody (chown -R nobody: " +
                 data.string() + ")");
}

BOOST_AUTO_TEST_CASE(started_as_another_user_stops_start_up, *tt::precondition(root)) {
  // Neither root nor the configured user: nothing it could do would make it that user.
  BOOST_REQUIRE(getpwnam("daemon") != nullptr);
  TempDir t;
  fs::path data = state_directory(t, "nobody", {});
  BOOST_TEST(start_as("nobody", "daemon", data) ==
             "user: daemon: the daemon runs as nobody, which is neither root nor daemon: start it "
             "as daemon (systemd's User=) or as root");
}
