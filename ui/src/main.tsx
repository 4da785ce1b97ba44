import { StrictMode, useEffect, useState, type FormEvent } from "react";
import { createRoot } from "react-dom/client";
import { QueryClient, QueryClientProvider, useQuery } from "@tanstack/react-query";
import { Link, Outlet, RouterProvider, createRootRoute, createRoute, createRouter, useNavigate } from "@tanstack/react-router";
import { getPlatform, isApiError, rpc, setPlatform } from "./api";
import { loadPlatform } from "./platform";
import { LiveProvider } from "./live";
import { keys } from "./data/invalidate";
import { initTheme } from "./theme";
import { Overview } from "./screens/Overview";
import { Servers } from "./screens/Servers";
import { ServerDetail } from "./screens/ServerDetail";
import { Activity } from "./screens/Activity";
import { Approvals } from "./screens/Approvals";
import { Clients } from "./screens/Clients";
import { Settings } from "./screens/Settings";
import { Doctor } from "./screens/Doctor";
import { SignInBanner } from "./screens/SignInBanner";
import "./styles.css";

const NAV = [
  ["/", "Overview", "1"],
  ["/servers", "Servers", "2"],
  ["/activity", "Activity", "3"],
  ["/approvals", "Approvals", "4"],
  ["/clients", "Clients", "5"],
  ["/doctor", "Doctor", "6"],
  ["/settings", "Settings", "7"],
] as const;

function Shell() {
  const navigate = useNavigate();
  const pending = useQuery({
    queryKey: [...keys.approvals, "pending"],
    queryFn: () => rpc("approvals_list", { pending_only: true }),
  });
  const waiting = pending.data?.length ?? 0;
  return (
    <div
      className="shell"
      onKeyDown={(e) => {
        // Alt+1..7 switch screens.
        const hit = NAV.find(([, , k]) => e.altKey && e.key === k);
        if (hit) {
          e.preventDefault();
          void navigate({ to: hit[0] });
        }
      }}
    >
      <nav className="sidebar" aria-label="Main">
        <div className="brand">
          <img src="/icon.svg" alt="" width={24} height={24} /> Switchboard
        </div>
        {NAV.map(([to, label]) => (
          <Link key={to} to={to} activeOptions={{ exact: to === "/" }} activeProps={{ className: "active" }} title={label}>
            {label}
            {label === "Approvals" && waiting > 0 && <span className="count">{waiting}</span>}
          </Link>
        ))}
      </nav>
      <main>
        <SignInBanner />
        <Outlet />
      </main>
    </div>
  );
}

const root = createRootRoute({ component: Shell });
const routes = [
  createRoute({ getParentRoute: () => root, path: "/", component: Overview }),
  createRoute({ getParentRoute: () => root, path: "/servers", component: Servers }),
  createRoute({ getParentRoute: () => root, path: "/servers/$name", component: ServerDetail }),
  createRoute({ getParentRoute: () => root, path: "/activity", component: Activity }),
  createRoute({ getParentRoute: () => root, path: "/approvals", component: Approvals }),
  createRoute({ getParentRoute: () => root, path: "/clients", component: Clients }),
  createRoute({ getParentRoute: () => root, path: "/doctor", component: Doctor }),
  createRoute({ getParentRoute: () => root, path: "/settings", component: Settings }),
];
const router = createRouter({ routeTree: root.addChildren(routes) });

declare module "@tanstack/react-router" {
  interface Register {
    router: typeof router;
  }
}

const queries = new QueryClient({
  defaultOptions: { queries: { staleTime: 2000, retry: (n, e) => !isApiError(e) && n < 2 } },
});

function SignIn({ onDone }: { onDone: () => void }) {
  const [code, setCode] = useState("");
  const [failed, setFailed] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (await getPlatform().signInWith(code.trim())) onDone();
    else setFailed(true);
  };
  return (
    <div className="signin">
      <form className="card form" onSubmit={submit}>
        <h1>Sign in to Switchboard</h1>
        <p className="muted">
          Open the control-panel link that <code>switchboard serve</code> printed, or paste the control token from <code>gateway.json</code> in the data directory.
        </p>
        <input type="password" value={code} onChange={(e) => setCode(e.target.value)} placeholder="control token" aria-label="Control token" autoFocus />
        {failed && <p className="error">That code or token was not accepted.</p>}
        <button className="primary" type="submit">
          Sign in
        </button>
      </form>
    </div>
  );
}

// Once per page load, whatever React renders twice.
let signedIn: Promise<"in" | "out"> | null = null;
function check(): Promise<"in" | "out"> {
  signedIn ??= (async () => {
    await getPlatform().signIn();
    try {
      await rpc("overview", null);
      return "in" as const;
    } catch (e) {
      return isApiError(e) && e.code === "unauthorized" ? ("out" as const) : ("in" as const);
    }
  })();
  return signedIn;
}

function App() {
  const [state, setState] = useState<"checking" | "in" | "out">("checking");
  useEffect(() => {
    if (state === "checking") void check().then(setState);
  }, [state]);
  if (state === "checking") return null;
  if (state === "out")
    return (
      <SignIn
        onDone={() => {
          signedIn = null;
          setState("checking");
        }}
      />
    );
  return (
    <QueryClientProvider client={queries}>
      <LiveProvider>
        <RouterProvider router={router} />
      </LiveProvider>
    </QueryClientProvider>
  );
}

initTheme();
void loadPlatform().then((p) => {
  setPlatform(p);
  const el = document.getElementById("root");
  if (el)
    createRoot(el).render(
      <StrictMode>
        <App />
      </StrictMode>,
    );
});
