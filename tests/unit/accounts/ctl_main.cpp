// A private nightjarctl holding only the `account` subcommand, so its tests run the real code
// (terminal-less password reading, exit codes, messages) before the integrator adds the row to
// nightjarctl's table.
#include <string_view>
#include <vector>

#include "inner/ctl/account.h"

int main(int argc, char** argv) {
  if (argc < 2 || std::string_view(argv[1]) != "account") return 2;
  return nj::ctl::cmd_account(std::vector<std::string_view>(argv + 2, argv + argc));
}
