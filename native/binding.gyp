{
  "targets": [
    {
      "target_name": "tulle",
      "sources": ["src/addon.cc", "src/checksum.cc", "src/encap.cc", "src/tun.cc", "src/io.cc", "src/gso.cc", "src/tx.cc", "src/gro.cc", "src/ethtool.cc", "src/tunnel.cc", "src/notify.cc", "src/thread.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O3", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags": ["-O3"]
    }
  ]
}
