// std::string, std::vector, std::map, std::set, std::deque and algorithms (ordered containers only).
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <deque>
#include <map>
#include <numeric>
#include <set>
#include <sstream>
#include <string>
#include <vector>

int main() {
  std::string text = "the cat and the dog and the bird saw the cat";
  std::istringstream in(text);
  std::map<std::string, int> freq;
  std::vector<std::string> words;
  for (std::string w; in >> w;) {
    ++freq[w];
    words.push_back(w);
  }
  std::printf("words=%zu distinct=%zu\n", words.size(), freq.size());
  for (const auto &kv : freq) std::printf("  %-5s %d\n", kv.first.c_str(), kv.second);

  std::set<std::string> uniq(words.begin(), words.end());
  std::string joined;
  for (const auto &w : uniq) joined += (joined.empty() ? "" : ",") + w;
  std::printf("set: %s\n", joined.c_str());
  std::printf("set contains 'dog'=%d 'cow'=%d\n", (int)uniq.count("dog"), (int)uniq.count("cow"));
  auto lb = uniq.lower_bound("c");
  std::printf("lower_bound(c)=%s\n", lb->c_str());

  std::vector<int> v(20);
  std::iota(v.begin(), v.end(), 1);
  v.erase(std::remove_if(v.begin(), v.end(), [](int x) { return x % 3 == 0; }), v.end());
  std::reverse(v.begin(), v.end());
  std::printf("vector size=%zu sum=%d front=%d back=%d\n", v.size(), std::accumulate(v.begin(), v.end(), 0),
              v.front(), v.back());
  v.insert(v.begin() + 2, {100, 200});
  v.resize(8);
  for (int x : v) std::printf("%d ", x);
  std::printf("\n");
  std::vector<std::vector<int>> grid(4, std::vector<int>(5, 0));
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 5; j++) grid[i][j] = i * j;
  int gsum = 0;
  for (auto &row : grid) gsum += std::accumulate(row.begin(), row.end(), 0);
  std::printf("grid sum=%d\n", gsum);

  std::map<int, std::string, std::greater<int>> desc{{1, "one"}, {5, "five"}, {3, "three"}};
  desc[4] = "four";
  desc.erase(1);
  for (auto &kv : desc) std::printf("%d:%s ", kv.first, kv.second.c_str());
  std::printf("\n");
  std::multiset<int> ms{5, 1, 5, 3, 5, 1};
  std::printf("multiset count(5)=%zu size=%zu\n", ms.count(5), ms.size());

  std::deque<int> dq;
  for (int i = 0; i < 5; i++) {
    dq.push_back(i);
    dq.push_front(-i);
  }
  std::printf("deque:");
  for (int x : dq) std::printf(" %d", x);
  std::printf("\n");

  std::string s = "Hello, World";
  s.replace(s.find("World"), 5, "JIT");
  s += std::string(3, '!');
  std::string upper = s;
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return (char)std::toupper(c); });
  std::printf("s=%s upper=%s substr=%s find=%zu rfind=%zu\n", s.c_str(), upper.c_str(), s.substr(7, 3).c_str(),
              s.find('l'), s.rfind('l'));
  std::string longstr(1000, 'x');   // heap allocated (beyond SSO)
  longstr[500] = 'y';
  std::printf("long find=%zu compare=%d\n", longstr.find('y'), s.compare("Hello") > 0);
  std::printf("to_string/stoi: %s %d\n", std::to_string(-12345).c_str(), std::stoi("  789xyz"));
  return 25;
}
