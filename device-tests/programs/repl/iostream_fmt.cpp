// iostream: std::cout with std::endl, manipulators (setw/setfill/hex/fixed/setprecision/boolalpha), stringstreams, cerr-free.
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

struct Point {
  int x, y;
};
std::ostream &operator<<(std::ostream &os, const Point &p) { return os << '(' << p.x << ", " << p.y << ')'; }

int main() {
  std::cout << "Hello from iostream" << std::endl;
  std::cout << 42 << ' ' << -7L << ' ' << 3000000000U << ' ' << 'c' << std::endl;
  std::cout << std::boolalpha << true << ' ' << false << std::noboolalpha << ' ' << true << std::endl;
  std::cout << std::hex << 255 << ' ' << std::showbase << 255 << ' ' << std::uppercase << 255 << std::dec
            << std::nouppercase << std::noshowbase << ' ' << 255 << std::endl;
  std::cout << std::oct << 64 << std::dec << std::endl;
  std::cout << std::fixed << std::setprecision(3) << 3.14159265 << ' ' << 2.0 / 3.0 << std::endl;
  std::cout << std::scientific << std::setprecision(2) << 12345.678 << std::endl;
  std::cout.unsetf(std::ios::floatfield);
  std::cout << std::setprecision(6) << 0.1 + 0.2 << ' ' << 1e20 << ' ' << 1.5 << std::endl;
  std::cout << '[' << std::setw(8) << 42 << ']' << '[' << std::left << std::setw(8) << 42 << ']' << std::right
            << std::endl;
  std::cout << std::setfill('*') << std::setw(10) << "pad" << std::setfill(' ') << std::endl;
  std::cout << std::internal << std::setw(8) << std::showpos << 17 << std::noshowpos << std::endl;
  std::cout << Point{3, -4} << ' ' << Point{0, 0} << '\n';

  std::vector<std::string> names{"alpha", "beta", "gamma"};
  for (size_t i = 0; i < names.size(); i++)
    std::cout << std::setw(2) << i << ": " << std::left << std::setw(6) << names[i] << std::right << '|' << '\n';

  std::ostringstream os;
  os << "sum=" << 1 + 2 << ", pi~" << std::fixed << std::setprecision(2) << 3.14159;
  std::string built = os.str();
  std::cout << built << " (" << built.size() << " chars)" << std::endl;

  std::istringstream is("10 20 thirty 40");
  int a = 0, b = 0, c = 0;
  is >> a >> b;
  bool ok_before = static_cast<bool>(is);
  is >> c;
  std::cout << "parsed " << a << ' ' << b << " ok=" << ok_before << " then fail=" << is.fail() << std::endl;
  is.clear();
  std::string word;
  is >> word >> c;
  std::cout << "recovered word=" << word << " c=" << c << std::endl;

  std::cout << "mixing with printf: ";
  std::cout.flush();
  std::printf("printf part\n");
  std::cout << "done" << std::endl;
  return 0;
}
