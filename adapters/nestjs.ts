// wx-session/nestjs: a NestJS 10/11 module over the same core and wire protocol as every adapter,
// on the Express and the Fastify platform. WxSessionModule provides the core (WX_SESSION_CORE),
// serves the login/logout routes (nestjs-routes.ts), and installs app-wide a guard, a filter that
// answers any WxSessionError with the error table, and an interceptor that saves `session.data`
// before the answer. Injection uses explicit @Inject tokens, so neither this file nor its users
// need `emitDecoratorMetadata`. The answers themselves are built in src/http.ts.
import {
  Catch, createParamDecorator, Inject, Injectable, Module, SetMetadata,
  type ArgumentsHost, type CallHandler, type CanActivate, type DynamicModule, type ExceptionFilter, type ExecutionContext,
  type InjectionToken, type ModuleMetadata, type NestInterceptor, type OnModuleInit, type OptionalFactoryDependency, type Provider,
} from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, HttpAdapterHost, Reflector } from '@nestjs/core';
import { mergeMap, type Observable } from 'rxjs';
import { createWxSession, isWxSessionCore, type AuthResult, type ErrorCode, type WxSession as Session, type WxSessionCore, type WxSessionCoreOptions } from '../src/index.js';
import { WxSessionError } from '../src/errors.js';
import {
  adapterOptions, authenticateHeaders, errorReply, failureReply, reissuedHeaders, rememberFailure, tokenFrom,
  type AdapterOptions, type ResolvedAdapterOptions,
} from '../src/http.js';
import { send, serveRoutes } from './nestjs-routes.js';

export type { AdapterOptions };

/** The injection token of the module's WxSessionCore (`@Inject(WX_SESSION_CORE) core: WxSessionCore`). */
export const WX_SESSION_CORE = Symbol.for('wx-session:core');
/** Metadata key set by @WxSessionOptional(). */
export const WX_SESSION_OPTIONAL = 'wx-session:optional';
const CONFIG = Symbol('wx-session:config');
const OPTIONS = Symbol('wx-session:options');

/** Which routes the guard the module installs app-wide covers. */
export type WxSessionGuardMode = 'optional' | 'required' | false;

export interface WxSessionNestOptions extends AdapterOptions {
  /**
   * The app-wide guard: `'optional'` authenticates every route and refuses none, as `app.use(wx)`
   * does on Express (`@WxSession()` is the session or undefined); `'required'` refuses every
   * route without a session but those marked @WxSessionOptional(); `false` installs none (put
   * `@UseGuards(WxSessionGuard)` on the routes that need a session). @default 'optional'
   */
  guard?: WxSessionGuardMode;
}

/** `{ core, ...options }`, or the core's own options with the module's. */
export type WxSessionModuleOptions = WxSessionNestOptions & ({ core: WxSessionCore } | WxSessionCoreOptions);

export interface WxSessionModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  useFactory: (...args: never[]) => WxSessionModuleOptions | Promise<WxSessionModuleOptions>;
  inject?: Array<InjectionToken | OptionalFactoryDependency>;
}

/** What a request carries once a guard ran (Express `req` or Fastify `request`). */
export interface WxSessionRequest {
  headers: Record<string, string | string[] | undefined>;
  /** The WeChat session, when the request carried a valid token. */
  wxSession?: Session;
  /** Why there is no session (missing, invalid, expired token; store down...). */
  wxSessionError?: ErrorCode;
}

interface Config {
  core: WxSessionCore;
  settings: ResolvedAdapterOptions;
  guard: WxSessionGuardMode;
}

function configOf(options: WxSessionModuleOptions): Config {
  const { loginPath, logoutPath, bodyTimeout, guard = 'optional', core: given, ...coreOptions } =
    options as WxSessionNestOptions & { core?: WxSessionCore } & WxSessionCoreOptions;
  if (guard !== 'optional' && guard !== 'required' && guard !== false) {
    throw new TypeError("wx-session: guard must be 'optional', 'required' or false");
  }
  const settings = adapterOptions({ loginPath, logoutPath, bodyTimeout });
  return { core: isWxSessionCore(given) ? given : createWxSession(coreOptions), settings, guard };
}

const requestOf = (context: ExecutionContext | ArgumentsHost) => context.switchToHttp().getRequest<WxSessionRequest>();

/** Authentication ran for this request: it always leaves one of the two set. */
const authenticated = (req: WxSessionRequest) => req.wxSession !== undefined || req.wxSessionError !== undefined;

/**
 * Marks a controller or a route on which the guard lets a request without a session through
 * (`@WxSession()` is then undefined), under `guard: 'required'` or `@UseGuards(WxSessionGuard)`.
 */
export const WxSessionOptional = () => SetMetadata(WX_SESSION_OPTIONAL, true);

/**
 * Authenticates the request (once, however many guards run) and, unless the route is optional,
 * refuses it without a session with the error table's answer: 401 for a missing, bad or expired
 * token, 503 when the store failed, and a failed key refresh's own status. Use it per route
 * (`@UseGuards(WxSessionGuard)`) or app-wide (`guard: 'required'`, or `APP_GUARD`).
 */
@Injectable()
export class WxSessionGuard implements CanActivate {
  protected mode: WxSessionGuardMode = 'required';

  constructor(
    @Inject(WX_SESSION_CORE) private readonly core: WxSessionCore,
    @Inject(HttpAdapterHost) private readonly host: HttpAdapterHost,
    @Inject(Reflector) private readonly reflector: Reflector,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (this.mode === false || context.getType() !== 'http') return true;
    const req = requestOf(context);
    const refuses = this.mode === 'required' && !this.reflector.getAllAndOverride<boolean>(WX_SESSION_OPTIONAL, [context.getHandler(), context.getClass()]);
    const decide = () => (refuses && !req.wxSession ? this.refuse(req) : true);
    if (authenticated(req)) return decide();
    const result = authenticateHeaders(this.core, req.headers);
    const settle = (settled: AuthResult) => {
      this.attach(req, context.switchToHttp().getResponse(), settled);
      return decide();
    };
    return result instanceof Promise ? result.then(settle) : settle(result);
  }

  private attach(req: WxSessionRequest, response: unknown, result: AuthResult): void {
    if (result.session) {
      req.wxSession = result.session;
      if (!result.token) return;
      const headers = reissuedHeaders(result.token);
      for (const name in headers) this.host.httpAdapter.setHeader(response, name, headers[name]!);
    } else {
      req.wxSessionError = result.code;
      rememberFailure(req, result);
    }
  }

  /** Throws the refusal src/http.ts words (with a failed refresh's errcode); WxSessionFilter answers it. */
  private refuse(req: WxSessionRequest): never {
    const { code, errcode } = failureReply(req, req.wxSessionError, undefined).body as { code: ErrorCode; errcode?: number };
    throw new WxSessionError(code, errcode === undefined ? {} : { errcode });
  }
}

/** The module's app-wide guard, in the mode its options name. */
class AppGuard extends WxSessionGuard {
  constructor(core: WxSessionCore, host: HttpAdapterHost, reflector: Reflector, mode: WxSessionGuardMode) {
    super(core, host, reflector);
    this.mode = mode;
  }
}

/**
 * Answers a WxSessionError thrown by a guard, a handler, a pipe or an interceptor with its table
 * status, headers (`WWW-Authenticate`, `Retry-After`, `Cache-Control`) and JSON body. The module
 * installs it app-wide; other exceptions go on to Nest's own handling.
 */
@Catch(WxSessionError)
export class WxSessionFilter implements ExceptionFilter<WxSessionError> {
  constructor(@Inject(HttpAdapterHost) private readonly host: HttpAdapterHost) {}

  catch(error: WxSessionError, context: ArgumentsHost): void {
    // Outside HTTP (microservices, websockets) there is no answer of ours to give.
    if (context.getType() !== 'http') throw error;
    const adapter = this.host.httpAdapter;
    const response = context.switchToHttp().getResponse<unknown>();
    if (adapter.isHeadersSent(response)) return void adapter.end(response);
    send(adapter, response, errorReply(error, tokenFrom(requestOf(context).headers)));
  }
}

/**
 * Saves changed `session.data` once the handler has its answer and before Nest sends it
 * (docs/api.md, "Adapters"); a failed save answers the store's error instead. (A handler that
 * writes the response itself through `@Res()` has answered before this runs.)
 */
@Injectable()
export class WxSessionSaver implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const session = context.getType() === 'http' ? requestOf(context).wxSession : undefined;
    if (!session) return next.handle();
    return next.handle().pipe(mergeMap(async (value: unknown) => {
      try {
        await session.saveChanges();
      } catch (error) {
        throw error instanceof WxSessionError ? error : new WxSessionError('WX_STORE_UNAVAILABLE');
      }
      return value;
    }));
  }
}

/** Serves the login and logout routes once the app's HTTP server exists (not in a bare application context). */
@Injectable()
class WxSessionRoutes implements OnModuleInit {
  constructor(@Inject(CONFIG) private readonly config: Config, @Inject(HttpAdapterHost) private readonly host: HttpAdapterHost) {}

  onModuleInit(): void {
    const adapter = this.host.httpAdapter;
    if (adapter) serveRoutes(adapter, this.config.core, this.config.settings);
  }
}

/**
 * The request's session (undefined on an optional route without one). Both a parameter decorator
 * and the session's type, so one import serves `@WxSession() session: WxSession`.
 */
export const WxSession = createParamDecorator((_data: unknown, context: ExecutionContext) => requestOf(context).wxSession);
export type WxSession = Session;
/** Why the request has no session (an ErrorCode), or undefined. */
export const WxSessionReason = createParamDecorator((_data: unknown, context: ExecutionContext) => requestOf(context).wxSessionError);

function dynamicModule(config: Provider[], imports: ModuleMetadata['imports'] = []): DynamicModule {
  const providers: Provider[] = [
    ...config,
    { provide: WX_SESSION_CORE, useFactory: (c: Config) => c.core, inject: [CONFIG] },
    WxSessionRoutes,
    WxSessionGuard,
    {
      provide: APP_GUARD,
      useFactory: (c: Config, host: HttpAdapterHost, reflector: Reflector) => new AppGuard(c.core, host, reflector, c.guard),
      inject: [CONFIG, HttpAdapterHost, Reflector],
    },
    { provide: APP_FILTER, useClass: WxSessionFilter },
    { provide: APP_INTERCEPTOR, useClass: WxSessionSaver },
  ];
  // Global: WX_SESSION_CORE and WxSessionGuard are injectable in every module of the app.
  return { module: WxSessionModule, global: true, imports, providers, exports: [WX_SESSION_CORE, WxSessionGuard] };
}

/**
 * `WxSessionModule.forRoot({ core, loginPath, guard })` or `.forRoot({ appId, appSecret, secret,
 * ... })`; `.forRootAsync({ imports, useFactory, inject })` when the options come from elsewhere
 * (a ConfigService). Import it once, in the root module.
 */
@Module({})
export class WxSessionModule {
  static forRoot(options: WxSessionModuleOptions): DynamicModule {
    return dynamicModule([{ provide: CONFIG, useFactory: () => configOf(options) }]);
  }

  static forRootAsync(options: WxSessionModuleAsyncOptions): DynamicModule {
    return dynamicModule([
      { provide: OPTIONS, useFactory: options.useFactory as (...args: unknown[]) => unknown, inject: options.inject ?? [] },
      { provide: CONFIG, useFactory: configOf, inject: [OPTIONS] },
    ], options.imports);
  }
}
