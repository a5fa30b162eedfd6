//! The gRPC side of `load-test --grpc`: an orders and a users service on tonic, written
//! by hand with prost messages (no protoc needed to build metricsctl), and the client
//! calls the load generator makes.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::http;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::{Request, Response, Status};
use tonic_prost::ProstCodec;

use super::server::mix;

#[derive(Clone, PartialEq, prost::Message)]
pub struct GetOrderRequest {
    #[prost(uint64, tag = "1")]
    pub id: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Order {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(string, tag = "2")]
    pub item: String,
    #[prost(uint32, tag = "3")]
    pub qty: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ListOrdersRequest {
    #[prost(uint32, tag = "1")]
    pub limit: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ListOrdersReply {
    #[prost(message, repeated, tag = "1")]
    pub orders: Vec<Order>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct GetUserRequest {
    #[prost(uint64, tag = "1")]
    pub id: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct User {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(string, tag = "2")]
    pub name: String,
}

/// The gRPC methods of the mix: (service, method, weight).
pub const METHODS: &[(&str, &str, u32)] = &[
    ("orders.OrderService", "GetOrder", 50),
    ("orders.OrderService", "ListOrders", 30),
    ("users.UserService", "GetUser", 20),
];

pub fn pick_method(n: u64) -> usize {
    let total: u64 = METHODS.iter().map(|m| u64::from(m.2)).sum();
    let mut x = mix(n ^ 0x6772_7063) % total;
    for (i, m) in METHODS.iter().enumerate() {
        if x < u64::from(m.2) {
            return i;
        }
        x -= u64::from(m.2);
    }
    METHODS.len() - 1
}

/// Simulated work shared by the handlers: ~1 ms, 1% UNAVAILABLE.
async fn work(counter: &AtomicU64) -> Result<(), Status> {
    let n = counter.fetch_add(1, Ordering::Relaxed);
    let u = (mix(n ^ 0x5eed) >> 11) as f64 / (1u64 << 53) as f64;
    tokio::time::sleep(Duration::from_secs_f64((-0.001 * (1.0 - u).ln()).min(0.05))).await;
    if mix(n ^ 0xfa11) % 100 == 0 {
        return Err(Status::unavailable("simulated overload"));
    }
    Ok(())
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = Result<T, Infallible>> + Send>>;

fn unimplemented_response() -> http::Response<Body> {
    let mut resp = http::Response::new(Body::default());
    let headers = resp.headers_mut();
    headers.insert("grpc-status", http::HeaderValue::from_static("12"));
    headers.insert("content-type", http::HeaderValue::from_static("application/grpc"));
    resp
}

/// Answers one unary call: decodes the request, does the simulated work, and encodes
/// `reply`'s answer (or its status).
fn unary<Req, Resp>(
    req: http::Request<Body>,
    counter: Arc<AtomicU64>,
    reply: fn(Req) -> Result<Resp, Status>,
) -> BoxFuture<http::Response<Body>>
where
    Req: prost::Message + Default + Send + 'static,
    Resp: prost::Message + Send + 'static,
{
    Box::pin(async move {
        let handler = tower::service_fn(move |r: Request<Req>| {
            let counter = Arc::clone(&counter);
            async move {
                work(&counter).await?;
                reply(r.into_inner()).map(Response::new)
            }
        });
        Ok(tonic::server::Grpc::new(ProstCodec::default()).unary(handler, req).await)
    })
}

fn get_order(r: GetOrderRequest) -> Result<Order, Status> {
    if r.id >= 950 {
        return Err(Status::not_found(format!("order {}", r.id)));
    }
    Ok(Order { id: r.id, item: "book".into(), qty: 1 })
}

fn list_orders(r: ListOrdersRequest) -> Result<ListOrdersReply, Status> {
    let orders = (0..u64::from(r.limit.min(20))).map(|id| Order { id, item: "pen".into(), qty: 2 }).collect();
    Ok(ListOrdersReply { orders })
}

fn get_user(r: GetUserRequest) -> Result<User, Status> {
    Ok(User { id: r.id, name: format!("user-{}", r.id) })
}

/// `orders.OrderService`: GetOrder, ListOrders.
#[derive(Clone, Default)]
pub struct OrderService {
    requests: Arc<AtomicU64>,
}

impl NamedService for OrderService {
    const NAME: &'static str = "orders.OrderService";
}

impl tower::Service<http::Request<Body>> for OrderService {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let counter = Arc::clone(&self.requests);
        match req.uri().path() {
            "/orders.OrderService/GetOrder" => unary(req, counter, get_order),
            "/orders.OrderService/ListOrders" => unary(req, counter, list_orders),
            _ => Box::pin(async { Ok(unimplemented_response()) }),
        }
    }
}

/// `users.UserService`: GetUser.
#[derive(Clone, Default)]
pub struct UserService {
    requests: Arc<AtomicU64>,
}

impl NamedService for UserService {
    const NAME: &'static str = "users.UserService";
}

impl tower::Service<http::Request<Body>> for UserService {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let counter = Arc::clone(&self.requests);
        match req.uri().path() {
            "/users.UserService/GetUser" => unary(req, counter, get_user),
            _ => Box::pin(async { Ok(unimplemented_response()) }),
        }
    }
}

/// Calls method `index` of `METHODS` for request number `n`; returns the gRPC code.
pub async fn call(channel: &tonic::transport::Channel, index: usize, n: u64) -> Result<i32, tonic::transport::Error> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    if grpc.ready().await.is_err() {
        return Ok(tonic::Code::Unavailable as i32);
    }
    let (service, method, _) = METHODS[index];
    let path: http::uri::PathAndQuery =
        format!("/{service}/{method}").parse().unwrap_or_else(|_| http::uri::PathAndQuery::from_static("/"));
    let code = match index {
        0 => grpc
            .unary::<_, Order, _>(Request::new(GetOrderRequest { id: mix(n) % 1000 }), path, ProstCodec::default())
            .await
            .err(),
        1 => grpc
            .unary::<_, ListOrdersReply, _>(Request::new(ListOrdersRequest { limit: 5 }), path, ProstCodec::default())
            .await
            .err(),
        _ => grpc
            .unary::<_, User, _>(Request::new(GetUserRequest { id: mix(n) % 1000 }), path, ProstCodec::default())
            .await
            .err(),
    };
    Ok(code.map_or(0, |status| status.code() as i32))
}
