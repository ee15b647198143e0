{
  "targets": [
    {
      "target_name": "windtunnel",
      "sources": [
        "native/src/addon.cc",
        "native/src/pool.cc",
        "native/src/gemm.cc",
        "native/src/elementwise.cc",
        "native/src/reduce.cc",
        "native/src/norms.cc",
        "native/src/losses.cc",
        "native/src/attention.cc",
        "native/src/rope.cc",
        "native/src/optim.cc",
        "native/src/probes.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_CPP_EXCEPTIONS_ALL",
        "WT_CFLAGS=\"-O3 -march=native -fno-math-errno -pthread\""
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
      "cflags": ["-march=native", "-fno-math-errno", "-pthread", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc": ["-std=c++17", "-fexceptions"],
      "libraries": ["-lopenblas", "-pthread"]
    }
  ]
}
