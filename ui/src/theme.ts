import { useEffect, useState } from "react";

export type Theme = "system" | "light" | "dark";

function apply(theme: Theme) {
  const dark = theme === "dark" || (theme === "system" && matchMedia("(prefers-color-scheme: dark)").matches);
  document.documentElement.dataset.theme = dark ? "dark" : "light";
}

/** The chosen theme, remembered in localStorage. */
export function useTheme(): [Theme, (t: Theme) => void] {
  const [theme, setTheme] = useState<Theme>(() => (localStorage.getItem("theme") as Theme | null) ?? "system");
  useEffect(() => {
    apply(theme);
    localStorage.setItem("theme", theme);
  }, [theme]);
  return [theme, setTheme];
}

export function initTheme() {
  apply((localStorage.getItem("theme") as Theme | null) ?? "system");
}
