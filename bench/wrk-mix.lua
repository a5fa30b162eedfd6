-- The route mix of metricsctl load-test's built-in server, for wrk.
-- Weights: orders GET 30, orders POST 12, orders/{id} 25, users/{id} 18, payments 5, healthz 10.
local mix = {}
local function add(weight, method, path, body)
  for _ = 1, weight do table.insert(mix, {method, path, body}) end
end
add(30, "GET", "/api/v1/orders", nil)
add(12, "POST", "/api/v1/orders", '{"item":"book","qty":1}')
add(25, "GET", "/api/v1/orders/%d", nil)
add(18, "GET", "/api/v1/users/%d", nil)
add(5, "POST", "/api/v1/payments", '{"amount":12}')
add(10, "GET", "/healthz", nil)

local n = 0
request = function()
  n = n + 1
  local r = mix[(n * 7919) % #mix + 1]
  local path = string.format(r[2], n % 1000)
  local headers = {}
  if r[3] then headers["Content-Type"] = "application/json" end
  return wrk.format(r[1], path, headers, r[3])
end
