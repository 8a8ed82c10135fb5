// argv handling in C++: copies argv[1..] into std::vector<std::string>, sorts and joins them; ignores argv[0].
#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char **argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::cout << "args=" << args.size() << std::endl;
  for (size_t i = 0; i < args.size(); i++) std::cout << "  [" << i + 1 << "] " << args[i] << '\n';
  std::sort(args.begin(), args.end());
  std::string joined;
  for (const auto &a : args) joined += (joined.empty() ? "" : "|") + a;
  std::cout << "sorted: " << joined << std::endl;
  size_t longest = 0;
  for (const auto &a : args) longest = std::max(longest, a.size());
  std::cout << "longest=" << longest << std::endl;
  return 60 + static_cast<int>(args.size());
}
