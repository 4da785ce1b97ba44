/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev` proxies the API to a running `switchboard serve`
// (SWITCHBOARD_URL, default http://127.0.0.1:7331).
const target = process.env.SWITCHBOARD_URL ?? "http://127.0.0.1:7331";

export default defineConfig({
  plugins: [react()],
  clearScreen: false,
  build: { target: "es2022", chunkSizeWarningLimit: 1000 },
  server: { proxy: { "/api": { target, changeOrigin: true } } },
  test: { environment: "node", include: ["src/**/*.test.ts"] },
});
