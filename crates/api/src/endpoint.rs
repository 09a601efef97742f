//! [`endpoint`]: one path with its methods. Every other method on the path answers
//! `405 method_not_allowed` with an `Allow` header listing the methods it has, in the
//! contract's problem+json shape or, for the OAuth endpoints, in the OAuth error shape.

use actix_web::http::Method;
use actix_web::{FromRequest, Handler, HttpResponse, Resource, Responder, ResponseError, web};

use crate::problem::ApiError;
use crate::routes::oauth::OAuthError;

/// How a path's `405` answer is shaped.
#[derive(Clone, Copy)]
enum ErrorShape {
    Problem,
    OAuth,
}

/// A path under construction: add its methods, then [`Endpoint::build`] it.
pub(crate) struct Endpoint {
    resource: Resource,
    methods: Vec<Method>,
    errors: ErrorShape,
}

/// Starts the endpoint at `path` (an actix pattern such as `/api/auth/sessions/{id}`).
pub(crate) fn endpoint(path: &str) -> Endpoint {
    Endpoint { resource: web::resource(path), methods: Vec::new(), errors: ErrorShape::Problem }
}

/// The order methods are listed in `Allow`.
const ALLOW_ORDER: [Method; 5] = [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE];

impl Endpoint {
    fn on<F, Args>(mut self, method: Method, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.resource = self.resource.route(web::method(method.clone()).to(handler));
        self.methods.push(method);
        self
    }

    /// Serves `GET` with `handler`.
    pub(crate) fn get<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.on(Method::GET, handler)
    }

    /// Serves `POST` with `handler`.
    pub(crate) fn post<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.on(Method::POST, handler)
    }

    /// Serves `PATCH` with `handler`.
    pub(crate) fn patch<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.on(Method::PATCH, handler)
    }

    /// Serves `DELETE` with `handler`.
    pub(crate) fn delete<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.on(Method::DELETE, handler)
    }

    /// Answers other methods in the OAuth error shape (RFC 6749) instead of problem+json.
    pub(crate) fn oauth_errors(mut self) -> Self {
        self.errors = ErrorShape::OAuth;
        self
    }

    /// The `Allow` value: the methods served, in a fixed order.
    fn allow(&self) -> String {
        let served: Vec<&str> =
            ALLOW_ORDER.iter().filter(|method| self.methods.contains(method)).map(Method::as_str).collect();
        served.join(", ")
    }

    /// The resource, answering `405` with `Allow` to every method it does not serve.
    pub(crate) fn build(self) -> Resource {
        let allow = self.allow();
        let errors = self.errors;
        self.resource.default_service(web::to(move || {
            let allow = allow.clone();
            async move {
                match errors {
                    ErrorShape::Problem => HttpResponse::from_error(ApiError::method_not_allowed(&allow)),
                    ErrorShape::OAuth => OAuthError::method_not_allowed(&allow).error_response(),
                }
            }
        }))
    }
}
