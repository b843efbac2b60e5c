-- The lapsed filter of the contract list starts from the orders that ended
-- in the past year instead of looking at every contract.
CREATE INDEX contract_orders_by_end ON contract_orders (end_on, contract_id);
